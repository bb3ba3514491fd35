import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe330RememberMeFixed extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    long value = new java.security.SecureRandom().nextLong();
    String rememberMeKey = Long.toString(value, 36);
    Cookie c = new Cookie("rememberMe", rememberMeKey);
    c.setSecure(true);
    response.addCookie(c);

    }
}
