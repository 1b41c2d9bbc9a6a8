import javax.net.ssl.*;
import java.io.*;
import java.net.Socket;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

// A TLS client that presents a certificate with a private key of its choice (JSSE does not
// check that they match), to show the server checks proof of possession.
//   java tests/tls/WrongKeyClient.java PORT CERT.pem KEY.pem
public class WrongKeyClient {
  static PrivateKey key(String f) throws Exception {
    String pem = Files.readString(Path.of(f)).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
  }
  public static void main(String[] a) throws Exception {
    int port = Integer.parseInt(a[0]);
    X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new FileInputStream(a[1]));
    PrivateKey pk = key(a[2]);
    X509ExtendedKeyManager km = new X509ExtendedKeyManager() {
      public String[] getClientAliases(String t, Principal[] i) { return new String[]{"x"}; }
      public String chooseClientAlias(String[] t, Principal[] i, Socket s) { return "x"; }
      public String chooseEngineClientAlias(String[] t, Principal[] i, SSLEngine e) { return "x"; }
      public String[] getServerAliases(String t, Principal[] i) { return null; }
      public String chooseServerAlias(String t, Principal[] i, Socket s) { return null; }
      public X509Certificate[] getCertificateChain(String alias) { return new X509Certificate[]{cert}; }
      public PrivateKey getPrivateKey(String alias) { return pk; }
    };
    TrustManager[] trustAll = { new X509TrustManager() {
      public void checkClientTrusted(X509Certificate[] c, String t) {}
      public void checkServerTrusted(X509Certificate[] c, String t) {}
      public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }};
    SSLContext ctx = SSLContext.getInstance("TLSv1.3");
    ctx.init(new KeyManager[]{km}, trustAll, null);
    try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
      s.startHandshake();
      s.getOutputStream().write("GET /who HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".getBytes());
      s.getOutputStream().flush();
      BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream()));
      String line = r.readLine();
      System.out.println("RESPONSE: " + line);
      String l; while ((l = r.readLine()) != null) if (l.startsWith("{")) System.out.println("BODY: " + l);
    } catch (Exception e) {
      System.out.println("FAILED: " + e);
    }
  }
}
