import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe601RedirectFixed extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String next = request.getParameter("next");
    if (next == null || !next.startsWith("/") || next.startsWith("//")) {
        next = "/home";
    }
    response.sendRedirect(next);

    }
}
