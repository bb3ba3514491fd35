import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe89JdbcLookupFixed extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String param = request.getParameter("account");
    String sql = "SELECT * FROM accounts WHERE id = ?";
    try {
        java.sql.PreparedStatement statement = DatabaseHelper.getSqlConnection().prepareStatement(sql);
        statement.setString(1, param);
        statement.execute();
    } catch (java.sql.SQLException e) {
        throw new ServletException(e);
    }

    }
}
