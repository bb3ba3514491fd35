import java.security.KeyPair;
import java.security.KeyPairGenerator;

class TlsKeys {
    private static final int BITS = 1024;

    KeyPair serverKeyPair() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(BITS);
        return generator.generateKeyPair();
    }
}
