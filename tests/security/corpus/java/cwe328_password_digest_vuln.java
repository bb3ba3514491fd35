import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe328PasswordDigestVuln extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String password = request.getParameter("password");
    try {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA1");
        byte[] hash = md.digest(password.getBytes("UTF-8"));
        UserStore.savePasswordHash(hash);
    } catch (java.security.NoSuchAlgorithmException e) {
        throw new ServletException(e);
    }

    }
}
