/*
 * An echo peer configured like RocketMQ's Java remoting (NettyRemotingServer): frames are decoded with
 * LengthFieldBasedFrameDecoder(16777216, 0, 4, 0, 4), as RocketMQ's NettyDecoder does, and encoded with
 * LengthFieldPrepender(4). A decode failure (TooLongFrameException for a length over the limit) closes the
 * channel, as NettyDecoder.decode and NettyConnectManageHandler.exceptionCaught do.
 *
 * With --tls-cert and --tls-key the peer speaks TLS in front of the framing, as RocketMQ's server does once
 * TlsModeHandler has put its SslHandler in the pipeline: Netty's SslHandler over the JDK engine
 * (SslProvider.JDK), a PEM certificate chain and a PKCS#8 PEM key. --tls-client-ca makes client certificates
 * required (ClientAuth.REQUIRE) and trusted only when signed by that CA; --tls-protocols limits the versions
 * (comma-separated, e.g. TLSv1.2 or TLSv1.3).
 *
 * Build and run (Debian's libnetty-java; netty-all.jar there is an empty aggregate, so list the modules):
 *   CP=/usr/share/java/netty-common.jar:/usr/share/java/netty-buffer.jar:/usr/share/java/netty-resolver.jar:\
 *      /usr/share/java/netty-transport.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-handler.jar
 *   javac -cp "$CP" -d build NettyEchoPeer.java && java -cp "build:$CP" NettyEchoPeer [maxFrameLength] \
 *      [--tls-cert server.pem --tls-key server.key [--tls-client-ca ca.pem] [--tls-protocols TLSv1.2]]
 *
 * Stdout, one event a line: "PORT <port>" once listening on 127.0.0.1, then "OPEN <remote>",
 * "DECODE_ERROR <exception class>: <message>" and "CLOSED <remote>"; with TLS also
 * "TLS_OK <protocol> <cipher suite> <client certificate subject or -> <remote>" or
 * "TLS_FAILED <exception class>: <message>" (the innermost cause) once a handshake ends. The peer exits when
 * its stdin closes, so it never outlives the test that started it.
 */
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import java.io.File;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

public final class NettyEchoPeer {
  /** RocketMQ's default `com.rocketmq.remoting.frameMaxLength`: 16 MiB including the 4 length bytes. */
  static final int FRAME_MAX_LENGTH = 16777216;

  static synchronized void event(String line) {
    System.out.println(line);
    System.out.flush();
  }

  /** RocketMQ's NettyDecoder minus the RemotingCommand decoding: a bad frame closes the channel. */
  static final class Decoder extends LengthFieldBasedFrameDecoder {
    Decoder(int maxFrameLength) {
      super(maxFrameLength, 0, 4, 0, 4);
    }

    @Override
    protected Object decode(ChannelHandlerContext ctx, ByteBuf in) throws Exception {
      try {
        return super.decode(ctx, in);
      } catch (Exception e) {
        event("DECODE_ERROR " + e.getClass().getSimpleName() + ": " + e.getMessage());
        ctx.channel().close();
        return null;
      }
    }
  }

  static final class Echo extends ChannelInboundHandlerAdapter {
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      event("OPEN " + ctx.channel().remoteAddress());
      ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      event("CLOSED " + ctx.channel().remoteAddress());
      ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      // The frame without its length; LengthFieldPrepender puts a new one in front on the way out.
      ctx.writeAndFlush(msg).addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof SslHandshakeCompletionEvent) {
        SslHandshakeCompletionEvent done = (SslHandshakeCompletionEvent) evt;
        if (done.isSuccess()) {
          SSLSession session = ctx.pipeline().get(SslHandler.class).engine().getSession();
          event("TLS_OK " + session.getProtocol() + " " + session.getCipherSuite() + " " + clientSubject(session)
              + " " + ctx.channel().remoteAddress());
        } else {
          Throwable cause = innermost(done.cause());
          event("TLS_FAILED " + cause.getClass().getSimpleName() + ": " + cause.getMessage());
        }
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      event("EXCEPTION " + cause.getClass().getSimpleName() + ": " + cause.getMessage());
      ctx.channel().close();
    }
  }

  static Throwable innermost(Throwable cause) {
    while (cause.getCause() != null && cause.getCause() != cause) cause = cause.getCause();
    return cause;
  }

  static String clientSubject(SSLSession session) {
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate
          ? ((X509Certificate) chain[0]).getSubjectX500Principal().getName().replace(' ', '_')
          : "-";
    } catch (SSLPeerUnverifiedException none) {
      return "-";
    }
  }

  static String option(String[] args, String name) {
    for (int i = 0; i < args.length - 1; i++) if (args[i].equals(name)) return args[i + 1];
    return null;
  }

  /** The server-side TLS context, or null without --tls-cert. */
  static SslContext sslContext(String[] args) throws Exception {
    String cert = option(args, "--tls-cert");
    if (cert == null) return null;
    SslContextBuilder builder = SslContextBuilder.forServer(new File(cert), new File(option(args, "--tls-key")))
        .sslProvider(SslProvider.JDK);
    String clientCa = option(args, "--tls-client-ca");
    if (clientCa != null) builder.trustManager(new File(clientCa)).clientAuth(ClientAuth.REQUIRE);
    String protocols = option(args, "--tls-protocols");
    if (protocols != null) builder.protocols(protocols.split(","));
    return builder.build();
  }

  public static void main(String[] args) throws Exception {
    final int maxFrameLength =
        args.length > 0 && !args[0].startsWith("--") ? Integer.parseInt(args[0]) : FRAME_MAX_LENGTH;
    final SslContext ssl = sslContext(args);
    EventLoopGroup boss = new NioEventLoopGroup(1);
    EventLoopGroup workers = new NioEventLoopGroup(1);
    try {
      ServerBootstrap bootstrap = new ServerBootstrap()
          .group(boss, workers)
          .channel(NioServerSocketChannel.class)
          .option(ChannelOption.SO_REUSEADDR, true)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              if (ssl != null) ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
              ch.pipeline().addLast(new LengthFieldPrepender(4), new Decoder(maxFrameLength), new Echo());
            }
          });
      Channel server = bootstrap.bind("127.0.0.1", 0).sync().channel();
      event("PORT " + ((InetSocketAddress) server.localAddress()).getPort());

      Thread watchdog = new Thread(() -> {
        try {
          InputStream in = System.in;
          while (in.read() >= 0) {
            // Only the end of stdin matters.
          }
        } catch (Exception ignored) {
          // A broken stdin means the parent is gone too.
        }
        server.close();
      });
      watchdog.setDaemon(true);
      watchdog.start();

      server.closeFuture().sync();
    } finally {
      boss.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.MILLISECONDS);
      workers.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.MILLISECONDS);
    }
  }
}
