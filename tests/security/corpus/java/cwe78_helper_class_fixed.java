import java.io.IOException;
    import javax.servlet.ServletException;
    import javax.servlet.http.*;

    public class Cwe78HelperClassFixed extends HttpServlet {
        @Override
        public void doPost(HttpServletRequest request, HttpServletResponse response) throws ServletException, IOException {

        String param = request.getParameter("host");
        String bar = new Test().doSomething(param);
        Runtime.getRuntime().exec(new String[] {"sh", "-c", "ping -c 1 " + bar});

        }

    private class Test {
        public String doSomething(String param) {
            String bar = "example.org";
            int num = 106;
            bar = (7 * 42) - num > 200 ? "This should never happen" : bar;
            return bar;
        }
    }
}
