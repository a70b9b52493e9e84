// Connects the way java.net.Socket(host, port) does (the first address of
// InetAddress.getAllByName, IPv4 first unless java.net.preferIPv6Addresses)
// and prints the peer address and the connect time in milliseconds.
import java.net.InetAddress;
import java.net.Socket;

public class JavaClient {
    public static void main(String[] args) throws Exception {
        // Load the socket and address classes before the clock starts:
        // the JVM's first use costs tens of milliseconds that are not the
        // client's connect behaviour. A literal needs no lookup, so
        // nothing about the target is cached.
        new Socket().close();
        InetAddress.getByName("127.0.0.1");
        long start = System.nanoTime();
        try (Socket s = new Socket(args[0], Integer.parseInt(args[1]))) {
            double ms = (System.nanoTime() - start) / 1e6;
            System.out.println(s.getInetAddress().getHostAddress() + " " + ms);
        }
    }
}
