import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

class PinHash {
    private static final byte[] SALT = new byte[16];

    byte[] hashPin(char[] pin) throws Exception {
        PBEKeySpec spec = new PBEKeySpec(pin, SALT, 210000, 256);
        return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
    }
}
