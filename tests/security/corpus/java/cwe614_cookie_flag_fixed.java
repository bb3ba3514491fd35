import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe614CookieFlagFixed extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    Cookie c = new Cookie("prefs", "compact");
    c.setSecure(true);
    c.setHttpOnly(true);
    response.addCookie(c);

    }
}
