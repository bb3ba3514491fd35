import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe79WriterFixed extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String param = request.getParameter("q");
    response.setContentType("text/html;charset=UTF-8");
    java.io.PrintWriter out = response.getWriter();
    out.println("<p>Results for " + org.owasp.encoder.Encode.forHtml(param) + "</p>");

    }
}
