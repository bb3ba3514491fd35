import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe89HeaderMapFixed extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String param = "";
    if (request.getHeader("X-Account") != null) {
        param = request.getHeader("X-Account");
    }
    param = java.net.URLDecoder.decode(param, "UTF-8");
    java.util.HashMap<String, Object> map = new java.util.HashMap<String, Object>();
    map.put("keyA", "a_Value");
    map.put("keyB", param);
    String bar = (String) map.get("keyA");
    jdbcTemplate.queryForList("SELECT * FROM accounts WHERE owner = '" + bar + "'");

    }
}
