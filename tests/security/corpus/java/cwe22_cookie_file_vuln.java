import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe22CookieFileVuln extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String param = "none";
    Cookie[] cookies = request.getCookies();
    if (cookies != null) {
        for (Cookie c : cookies) {
            if (c.getName().equals("report")) {
                param = java.net.URLDecoder.decode(c.getValue(), "UTF-8");
                break;
            }
        }
    }
    java.io.File file = new java.io.File("/var/reports/" + param);
    response.getOutputStream().write(java.nio.file.Files.readAllBytes(file.toPath()));

    }
}
