import java.security.KeyPair;
import java.security.KeyPairGenerator;

class TlsKeys {
    private static final int BITS = 3072;

    KeyPair serverKeyPair() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(BITS);
        return generator.generateKeyPair();
    }
}
