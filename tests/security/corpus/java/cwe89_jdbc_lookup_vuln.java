import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe89JdbcLookupVuln extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String param = request.getParameter("account");
    String sql = "SELECT * FROM accounts WHERE id = '" + param + "'";
    try {
        java.sql.Statement statement = DatabaseHelper.getSqlStatement();
        statement.execute(sql, java.sql.Statement.RETURN_GENERATED_KEYS);
    } catch (java.sql.SQLException e) {
        throw new ServletException(e);
    }

    }
}
