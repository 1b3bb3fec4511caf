import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * The Java side of bench/send.bench.ts: Apache RocketMQ's own DefaultMQProducer (rocketmq-client 5.3.3) sending
 * to one queue (`send(msg, mq)`, so no queue selection differs from the TypeScript side).
 *
 * Usage: java -cp ... ProducerBench namesrvAddr topic brokerName queueId bodySize producerGroup timeoutMs
 *
 * Once the producer is started and the NameServer routes the topic, it prints {"ready":true,...}. Then it reads
 * commands on stdin, one a line, and answers each with one JSON line on stdout:
 *   sequential COUNT WARMUP          sync send, one at a time; per-send latencies (p50, p99)
 *   inflight COUNT WARMUP WINDOW     async send, a Semaphore of WINDOW permits
 *   quit                             (or end of input) shuts the producer down and exits
 * stdout carries these lines only: System.out is pointed at stderr before any RocketMQ class loads, so whatever
 * a logger prints to the console goes to stderr.
 */
public final class ProducerBench {
  private static DefaultMQProducer producer;
  private static MessageQueue queue;
  private static byte[] body;
  private static String topic;
  private static long timeoutMs;

  public static void main(String[] args) throws Exception {
    PrintStream results = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    System.setOut(System.err);
    if (args.length != 7) {
      System.err.println("usage: ProducerBench namesrvAddr topic brokerName queueId bodySize producerGroup timeoutMs");
      System.exit(2);
    }
    String namesrv = args[0];
    topic = args[1];
    String brokerName = args[2];
    int queueId = Integer.parseInt(args[3]);
    body = makeBody(Integer.parseInt(args[4]));
    String group = args[5];
    timeoutMs = Long.parseLong(args[6]);

    producer = new DefaultMQProducer(group);
    producer.setNamesrvAddr(namesrv);
    producer.setInstanceName("bench-" + ProcessHandle.current().pid());
    // The broker's main port, as the TypeScript client uses (the VIP channel is the broker's port - 2).
    producer.setVipChannelEnabled(false);
    producer.setSendMsgTimeout((int) timeoutMs);
    producer.start();
    queue = new MessageQueue(topic, brokerName, queueId);

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    List<MessageQueue> queues = null;
    Exception last = null;
    while (queues == null && System.nanoTime() < deadline) {
      try {
        queues = producer.fetchPublishMessageQueues(topic);
      } catch (Exception e) {
        last = e;
        Thread.sleep(200);
      }
    }
    if (queues == null) {
      results.println("{\"ready\":false,\"error\":" + quote(String.valueOf(last)) + "}");
      producer.shutdown();
      System.exit(1);
    }
    results.println("{\"ready\":true,\"queues\":" + queues.size() + "}");

    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      String[] parts = line.trim().split("\\s+");
      if (parts.length == 0 || parts[0].isEmpty()) continue;
      try {
        switch (parts[0]) {
          case "sequential":
            results.println(sequential(Integer.parseInt(parts[1]), Integer.parseInt(parts[2])));
            break;
          case "inflight":
            results.println(
              inFlight(Integer.parseInt(parts[1]), Integer.parseInt(parts[2]), Integer.parseInt(parts[3])));
            break;
          case "quit":
            shutdown(results);
            return;
          default:
            results.println("{\"error\":" + quote("unknown command: " + line) + "}");
        }
      } catch (Exception e) {
        results.println("{\"error\":" + quote(e.toString()) + "}");
      }
    }
    shutdown(results);
  }

  private static void shutdown(PrintStream results) {
    producer.shutdown();
    results.println("{\"bye\":true}");
    System.exit(0);
  }

  private static byte[] makeBody(int size) {
    byte[] bytes = new byte[size];
    for (int i = 0; i < size; i++) bytes[i] = (byte) ('a' + i % 26);
    return bytes;
  }

  private static Message message() {
    // TAGS and WAIT=true here; send() adds UNIQ_KEY.
    return new Message(topic, "bench", body);
  }

  private static final class Errors {
    final AtomicInteger count = new AtomicInteger();
    final AtomicReference<String> last = new AtomicReference<>();

    void add(String what) {
      count.incrementAndGet();
      last.set(what);
    }
  }

  private static void sendSync(Errors errors) {
    try {
      SendResult result = producer.send(message(), queue, timeoutMs);
      if (result.getSendStatus() != SendStatus.SEND_OK) errors.add(String.valueOf(result.getSendStatus()));
    } catch (Exception e) {
      errors.add(e.toString());
    }
  }

  private static String sequential(int count, int warmup) {
    Errors ignored = new Errors();
    for (int i = 0; i < warmup; i++) sendSync(ignored);
    Errors errors = new Errors();
    long[] latencies = new long[count];
    long started = System.nanoTime();
    for (int i = 0; i < count; i++) {
      long t0 = System.nanoTime();
      sendSync(errors);
      latencies[i] = System.nanoTime() - t0;
    }
    long elapsed = System.nanoTime() - started;
    Arrays.sort(latencies);
    return "{\"mode\":\"sequential\",\"count\":" + count + ",\"elapsedNs\":" + elapsed
      + ",\"p50Ns\":" + percentile(latencies, 0.50) + ",\"p99Ns\":" + percentile(latencies, 0.99)
      + ",\"errors\":" + errors.count.get() + ",\"lastError\":" + quote(errors.last.get()) + "}";
  }

  /** Async sends, at most `window` unanswered; returns when all `count` callbacks have run. */
  private static long runAsync(int count, int window, Errors errors) throws InterruptedException {
    Semaphore permits = new Semaphore(window);
    CountDownLatch done = new CountDownLatch(count);
    SendCallback callback = new SendCallback() {
      @Override
      public void onSuccess(SendResult result) {
        if (result.getSendStatus() != SendStatus.SEND_OK) errors.add(String.valueOf(result.getSendStatus()));
        permits.release();
        done.countDown();
      }

      @Override
      public void onException(Throwable e) {
        errors.add(e.toString());
        permits.release();
        done.countDown();
      }
    };
    long started = System.nanoTime();
    for (int i = 0; i < count; i++) {
      permits.acquireUninterruptibly();
      try {
        producer.send(message(), queue, callback, timeoutMs);
      } catch (Exception e) {
        errors.add(e.toString());
        permits.release();
        done.countDown();
      }
    }
    done.await();
    return System.nanoTime() - started;
  }

  private static String inFlight(int count, int warmup, int window) throws InterruptedException {
    if (warmup > 0) runAsync(warmup, window, new Errors());
    Errors errors = new Errors();
    long elapsed = runAsync(count, window, errors);
    return "{\"mode\":\"inflight\",\"count\":" + count + ",\"window\":" + window + ",\"elapsedNs\":" + elapsed
      + ",\"errors\":" + errors.count.get() + ",\"lastError\":" + quote(errors.last.get()) + "}";
  }

  /** Nearest rank: the smallest value with at least `p` of all values at or below it. */
  private static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) return 0;
    int rank = (int) Math.ceil(p * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  private static String quote(String s) {
    if (s == null) return "null";
    StringBuilder out = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') out.append('\\').append(c);
      else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
      else out.append(c);
    }
    return out.append('"').toString();
  }
}
