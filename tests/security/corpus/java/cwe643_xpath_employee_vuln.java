import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe643XpathEmployeeVuln extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String id = request.getParameter("id");
    try {
        javax.xml.xpath.XPath xp = javax.xml.xpath.XPathFactory.newInstance().newXPath();
        String expression = "/Employees/Employee[@emplid='" + id + "']";
        String result = xp.evaluate(expression, XmlHelper.document());
        response.getWriter().println(org.owasp.esapi.ESAPI.encoder().encodeForHTML(result));
    } catch (javax.xml.xpath.XPathExpressionException e) {
        throw new ServletException(e);
    }

    }
}
