import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;

class MessageBox {
    private static final byte[] NONCE = "box-nonce-12".getBytes();

    byte[] seal(SecretKey key, byte[] message) throws Exception {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, NONCE));
        return cipher.doFinal(message);
    }
}
