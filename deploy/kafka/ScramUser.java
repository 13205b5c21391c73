import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

/**
 * Creates (or updates) a SCRAM-SHA-512 user on the local broker, then waits until the SASL
 * listener accepts it. Run by deploy/kafka/start.sh with KAFKA_SASL=1, on the broker's classpath:
 *
 *   java -cp 'deploy/kafka/.cache/libs/*' deploy/kafka/ScramUser.java
 *
 * Everything comes from the environment, so the password never appears on a command line (which
 * `ps` shows to every user): SCRAM_ADMIN_BOOTSTRAP (the PLAINTEXT listener, where the user is
 * created), SCRAM_CHECK_BOOTSTRAP (the SASL_PLAINTEXT listener, where it is tried),
 * KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, SCRAM_TIMEOUT_MS.
 */
public final class ScramUser {
  private static final int ITERATIONS = 4096;

  public static void main(String[] args) throws Exception {
    String adminBootstrap = required("SCRAM_ADMIN_BOOTSTRAP");
    String checkBootstrap = required("SCRAM_CHECK_BOOTSTRAP");
    String user = required("KAFKA_SASL_USERNAME");
    String password = required("KAFKA_SASL_PASSWORD");
    long deadline = System.currentTimeMillis() + Long.parseLong(System.getenv().getOrDefault("SCRAM_TIMEOUT_MS", "30000"));

    try (Admin admin = Admin.create(plain(adminBootstrap))) {
      // An upsert: a second start with the same user (or a new password) is fine.
      admin.alterUserScramCredentials(List.of(
          new UserScramCredentialUpsertion(user, new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS), password)))
          .all().get();
    }

    // The controller has the credential now; the broker applies it from the metadata log a moment
    // later. Until then an authentication fails, so try until it succeeds.
    Exception last = null;
    while (System.currentTimeMillis() < deadline) {
      try (Admin admin = Admin.create(sasl(checkBootstrap, user, password))) {
        admin.describeCluster().clusterId().get();
        System.out.println("kafka: SCRAM-SHA-512 user \"" + user + "\" authenticates on " + checkBootstrap);
        return;
      } catch (ExecutionException e) {
        last = e;
      }
      Thread.sleep(250);
    }
    System.err.println("kafka: the SASL listener did not accept user \"" + user + "\": " + (last == null ? "timed out" : last.getCause()));
    System.exit(1);
  }

  private static String required(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      System.err.println("kafka: " + name + " is required");
      System.exit(2);
    }
    return value;
  }

  private static Properties plain(String bootstrap) {
    Properties props = new Properties();
    props.putAll(Map.of(
        AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000",
        AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000"));
    return props;
  }

  private static Properties sasl(String bootstrap, String user, String password) {
    Properties props = plain(bootstrap);
    props.put(AdminClientConfig.SECURITY_PROTOCOL_CONFIG, "SASL_PLAINTEXT");
    props.put("sasl.mechanism", "SCRAM-SHA-512");
    props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
        + quote(user) + "\" password=\"" + quote(password) + "\";");
    // one attempt per loop round: the loop above does the waiting
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    return props;
  }

  private static String quote(String text) {
    return text.replace("\\", "\\\\").replace("\"", "\\\"");
  }
}
