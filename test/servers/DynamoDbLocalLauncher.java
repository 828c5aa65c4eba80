// Starts DynamoDB Local listening on 127.0.0.1 only. DynamoDB Local has no bind-address option
// (it listens on every interface), so this launcher builds the server from the normal command
// line arguments, reaches its private Jetty server by reflection and pins every connector to
// loopback before starting it. Compiled at test time by test/servers/dynamodb-local.ts.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class DynamoDbLocalLauncher {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    int pinned = 0;
    for (Connector connector : jetty.getConnectors()) {
      if (connector instanceof ServerConnector) {
        ((ServerConnector) connector).setHost("127.0.0.1");
        pinned++;
      }
    }
    if (pinned == 0) throw new IllegalStateException("DynamoDB Local has no ServerConnector to bind to 127.0.0.1");
    proxy.start();
    System.out.println("DynamoDbLocalLauncher: listening on 127.0.0.1");
    proxy.join();
  }
}
