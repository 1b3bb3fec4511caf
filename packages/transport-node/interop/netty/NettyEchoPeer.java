/*
 * An echo peer configured like RocketMQ's Java remoting (NettyRemotingServer): frames are decoded with
 * LengthFieldBasedFrameDecoder(16777216, 0, 4, 0, 4), as RocketMQ's NettyDecoder does, and encoded with
 * LengthFieldPrepender(4). A decode failure (TooLongFrameException for a length over the limit) closes the
 * channel, as NettyDecoder.decode and NettyConnectManageHandler.exceptionCaught do.
 *
 * Build and run (Debian's libnetty-java; netty-all.jar there is an empty aggregate, so list the modules):
 *   CP=/usr/share/java/netty-common.jar:/usr/share/java/netty-buffer.jar:/usr/share/java/netty-resolver.jar:\
 *      /usr/share/java/netty-transport.jar:/usr/share/java/netty-codec.jar
 *   javac -cp "$CP" -d build NettyEchoPeer.java && java -cp "build:$CP" NettyEchoPeer [maxFrameLength]
 *
 * Stdout, one event a line: "PORT <port>" once listening on 127.0.0.1, then "OPEN <remote>",
 * "DECODE_ERROR <exception class>: <message>" and "CLOSED <remote>". The peer exits when its stdin closes, so
 * it never outlives the test that started it.
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
import java.io.InputStream;
import java.net.InetSocketAddress;

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
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      event("EXCEPTION " + cause.getClass().getSimpleName() + ": " + cause.getMessage());
      ctx.channel().close();
    }
  }

  public static void main(String[] args) throws Exception {
    final int maxFrameLength = args.length > 0 ? Integer.parseInt(args[0]) : FRAME_MAX_LENGTH;
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
