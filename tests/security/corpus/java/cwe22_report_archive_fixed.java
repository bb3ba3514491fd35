import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

public class ReportArchive {
    private static final Path ROOT = Paths.get("/var/reports");

    public byte[] read(String year, String name) throws IOException {
        Path file = ROOT.resolve(year).resolve(name + ".pdf").normalize();
        if (!file.startsWith(ROOT)) {
            throw new IOException("outside the archive: " + name);
        }
        return Files.readAllBytes(file);
    }
}
