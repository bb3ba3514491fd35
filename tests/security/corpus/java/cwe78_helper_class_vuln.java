import java.io.IOException;
    import javax.servlet.ServletException;
    import javax.servlet.http.*;

    public class Cwe78HelperClassVuln extends HttpServlet {
        @Override
        public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

        String param = request.getParameter("host");
        String bar = new Test().doSomething(param);
        Runtime.getRuntime().exec(new String[] {"sh", "-c", "ping -c 1 " + bar});

        }

    private class Test {
        public String doSomething(String param) {
            StringBuilder sb = new StringBuilder(param);
            return sb.append(" -W 1").toString();
        }
    }
}
