/* Reads a configuration file and prints each "key=value" line without its trailing newline. */
#include <stdio.h>
#include <string.h>

static void trim_newline(char *s)
{
    size_t len = strlen(s);
    if (s[len - 1] == '\n')
        s[len - 1] = '\0';
}

int main(int argc, char **argv)
{
    char line[256];
    FILE *f = fopen(argc > 1 ? argv[1] : "app.conf", "r");
    if (f == NULL)
        return 1;
    while (fgets(line, sizeof line, f) != NULL) {
        trim_newline(line);
        if (strchr(line, '=') != NULL)
            printf("[%s]\n", line);
    }
    fclose(f);
    return 0;
}
