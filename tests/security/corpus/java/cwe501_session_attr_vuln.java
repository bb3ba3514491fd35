import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe501SessionAttrVuln extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String param = request.getParameter("team");
    request.getSession().setAttribute("team", param);

    }
}
