import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.*;

public class Cwe90LdapFilterVuln extends HttpServlet {
    @Override
    public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

    String user = request.getParameter("user");
    javax.naming.directory.DirContext ctx = LdapHelper.context();
    String filter = "(&(objectclass=person)(uid=" + user + "))";
    try {
        ctx.search("ou=users,ou=system", filter, new javax.naming.directory.SearchControls());
    } catch (javax.naming.NamingException e) {
        throw new ServletException(e);
    }

    }
}
