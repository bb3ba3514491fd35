/* Prints the role of a user from users.xml; the user name comes from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

int main(void)
{
    const char *user = getenv("REMOTE_USER");

    if (user == NULL)
        return 2;
    xmlDocPtr doc = xmlReadFile("users.xml", NULL, 0);
    if (doc == NULL)
        return 1;
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterVariable(ctx, (const xmlChar *)"name", xmlXPathNewCString(user));
    xmlXPathObjectPtr res = xmlXPathEvalExpression((const xmlChar *)"string(//user[@name=$name]/@role)", ctx);
    if (res != NULL && res->stringval != NULL)
        printf("%s\n", (const char *)res->stringval);
    xmlXPathFreeObject(res);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return 0;
}
