import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe327CipherModeFixed extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    try {
        javax.crypto.Cipher c = javax.crypto.Cipher.getInstance("AES/GCM/NoPadding");
        c.init(javax.crypto.Cipher.ENCRYPT_MODE, KeyStoreHelper.key(), KeyStoreHelper.freshGcmSpec());
        response.getOutputStream().write(c.doFinal(request.getParameter("data").getBytes()));
    } catch (java.security.GeneralSecurityException e) {
        throw new ServletException(e);
    }

    }
}
