import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe22CookieFileFixed extends HttpServlet {
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
    String name = org.apache.commons.io.FilenameUtils.getName(param);
    java.io.File file = new java.io.File("/var/reports/" + name);
    response.getContentType();

    }
}
