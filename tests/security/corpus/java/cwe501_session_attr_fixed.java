import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe501SessionAttrFixed extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String param = request.getParameter("team");
    String bar = "guest";
    char target = "ABC".charAt(1);
    switch (target) {
        case 'A': bar = param; break;
        case 'B': bar = "guest"; break;
        default: bar = param; break;
    }
    request.getSession().setAttribute("team", bar);

    }
}
