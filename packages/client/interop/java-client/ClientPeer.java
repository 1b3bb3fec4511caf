import com.alibaba.fastjson2.JSON;
import com.alibaba.fastjson2.JSONArray;
import com.alibaba.fastjson2.JSONObject;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.ClientConfig;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.impl.consumer.ProcessQueue;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.selector.SelectMessageQueueByHash;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.protocol.heartbeat.MessageModel;

/**
 * Apache RocketMQ's own Java client (rocketmq-client 5.3.3) as a peer for the client package's tests: one
 * long-running JVM driven by JSON lines on stdin, answering with JSON lines on stdout.
 *
 * Usage: java -cp ... ClientPeer namesrvAddr ROLE ARGS... [key=value...]
 *
 *   producer GROUP                      a DefaultMQProducer
 *     options: instanceName, compressOver (compressMsgBodyOverHowmuch, default 4096), sendMsgTimeout,
 *              retryTimes, maxMessageSize
 *     {"op":"send","topic","body":base64,"tags"?,"keys"?:[..],"delayLevel"?,"deliverAt"?,"delayMs"?,
 *      "properties"?:{..},"flag"?,"waitStoreMsgOK"?,"queue"?:{"brokerName","queueId"}}
 *     {"op":"sendBatch","topic","messages":[{"body","tags"?,"keys"?,"properties"?}]}  (msgId comma-joined)
 *     {"op":"sendOrdered","topic","key","body",...}     SelectMessageQueueByHash with `key` as its arg
 *       each → {"ok":true,"status","msgId","offsetMsgId","queue":{"topic","brokerName","queueId"},"queueOffset"}
 *     {"op":"queueFor","topic","key"}    → {"ok":true,"queue":{..},"queues":[..]}: what SelectMessageQueueByHash
 *                                          picks over fetchPublishMessageQueues(topic) (also listed)
 *     {"op":"publishQueues","topic"}     → {"ok":true,"queues":[..]}
 *
 *   consumer GROUP TOPIC EXPRESSION     a DefaultMQPushConsumer, MessageListenerConcurrently
 *     options: from (FIRST_OFFSET | LAST_OFFSET | TIMESTAMP, or the CONSUME_FROM_* name; default
 *              FIRST_OFFSET; a bare CONSUME_FROM_* argument works too), timestamp (yyyyMMddHHmmss),
 *              instanceName, maxReconsumeTimes, expressionType (TAG | SQL92), messageModel (CLUSTERING |
 *              BROADCASTING), batch (consumeMessageBatchMaxSize, default 1), pullBatchSize, consumeThreads
 *     each message → {"event":"message","msgId","offsetMsgId","topic","tags","keys":[..],"body":base64,
 *       "reconsumeTimes","queueId","queueOffset","brokerName","bornTimestamp","storeTimestamp",
 *       "commitLogOffset","sysFlag","bodyCRC","storeSize","bornHost","storeHost","properties":{..},
 *       "consumeResult":"CONSUME_SUCCESS"|"RECONSUME_LATER"}
 *     {"op":"assignment","topic"?}      → {"ok":true,"queues":[..]}: the queues of the topic (default: the
 *                                          subscribed one) in the rebalance's process-queue table, not dropped,
 *                                          in MessageQueue order
 *     {"op":"clientId"}                 → {"ok":true,"clientId"}
 *     {"op":"failNext","count":N,"delayLevel"?:L}  the next N consume calls return RECONSUME_LATER (with
 *                                          context.delayLevelWhenNextConsume = L when given)
 *
 *   bench-consume GROUP TOPIC COUNT     drains COUNT messages from the first offset as fast as it can, prints
 *     {"event":"done","count","elapsedMs","firstMessageMs","cpuMs","processCpuMs"} and exits (elapsed and cpu
 *     from just before consumer.start(); processCpuMs since the JVM started). options: instanceName, batch,
 *     pullBatchSize, consumeThreads, timeoutSeconds (default 600)
 *
 * Every role takes options pollNameServerInterval, heartbeatBrokerInterval, persistConsumerOffsetInterval (ms,
 * ClientConfig's setters; Java's defaults 30000, 30000, 5000) and rebalanceInterval (ms, the system property
 * rocketmq.client.rebalance.waitInterval; default 20000), so that tests need not wait for Java's periods.
 *
 * Every role: {"op":"shutdown"} (or the end of stdin) shuts the client down, answers and exits 0. Once started,
 * each prints {"event":"ready","role","clientId"}. A command with an "id" gets it back in its answer; a failed
 * one answers {"ok":false,"error","errorClass","code"?}. stdout carries these lines only: System.out is pointed
 * at stderr before any RocketMQ class loads, and the client's own log goes where -Drocketmq.log.root says.
 */
public final class ClientPeer {
  private static PrintStream out;
  private static DefaultMQProducer producer;
  private static DefaultMQPushConsumer consumer;
  private static String consumerTopic;
  private static final AtomicInteger failNext = new AtomicInteger();
  private static volatile int failDelayLevel = 0;

  public static void main(String[] args) throws Exception {
    out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    System.setOut(System.err);
    if (System.getProperty("mq.consoleAppender.enabled") == null) {
      System.setProperty("mq.consoleAppender.enabled", "false");
    }
    if (args.length < 3) usage();
    String namesrv = args[0];
    String role = args[1];
    List<String> positional = new ArrayList<>();
    Map<String, String> options = new HashMap<>();
    for (int i = 2; i < args.length; i++) {
      String arg = args[i];
      int eq = arg.indexOf('=');
      if (arg.startsWith("CONSUME_FROM_")) options.put("from", arg);
      else if (eq > 0 && positional.size() >= positionalCount(role)) options.put(arg.substring(0, eq), arg.substring(eq + 1));
      else positional.add(arg);
    }
    if (positional.size() != positionalCount(role)) usage();
    if (options.containsKey("rebalanceInterval")) {
      // Read when RebalanceService loads, at the client's start.
      System.setProperty("rocketmq.client.rebalance.waitInterval", options.get("rebalanceInterval"));
    }
    try {
      switch (role) {
        case "producer":
          startProducer(namesrv, positional.get(0), options);
          break;
        case "consumer":
          startConsumer(namesrv, positional.get(0), positional.get(1), positional.get(2), options);
          break;
        case "bench-consume":
          benchConsume(namesrv, positional.get(0), positional.get(1), Integer.parseInt(positional.get(2)), options);
          return;
        default:
          usage();
      }
    } catch (Throwable e) {
      JSONObject failed = new JSONObject();
      failed.put("event", "failed");
      failed.put("error", describe(e));
      emit(failed);
      System.exit(1);
    }
    commandLoop();
  }

  private static int positionalCount(String role) {
    switch (role) {
      case "producer":
        return 1;
      case "consumer":
      case "bench-consume":
        return 3;
      default:
        return -1;
    }
  }

  private static void usage() {
    System.err.println("usage: ClientPeer namesrvAddr producer GROUP [key=value...]\n"
      + "       ClientPeer namesrvAddr consumer GROUP TOPIC EXPRESSION [CONSUME_FROM_*] [key=value...]\n"
      + "       ClientPeer namesrvAddr bench-consume GROUP TOPIC COUNT [key=value...]");
    System.exit(2);
  }

  private static synchronized void emit(JSONObject line) {
    out.println(JSON.toJSONString(line));
  }

  private static void configure(ClientConfig config, Map<String, String> options, String role) {
    config.setInstanceName(instanceName(options, role));
    // The broker's main port, as the TypeScript client uses (the VIP channel is the broker's port - 2).
    config.setVipChannelEnabled(false);
    if (options.containsKey("pollNameServerInterval")) {
      config.setPollNameServerInterval(Integer.parseInt(options.get("pollNameServerInterval")));
    }
    if (options.containsKey("heartbeatBrokerInterval")) {
      config.setHeartbeatBrokerInterval(Integer.parseInt(options.get("heartbeatBrokerInterval")));
    }
    if (options.containsKey("persistConsumerOffsetInterval")) {
      config.setPersistConsumerOffsetInterval(Integer.parseInt(options.get("persistConsumerOffsetInterval")));
    }
  }

  private static String instanceName(Map<String, String> options, String role) {
    String given = options.get("instanceName");
    return given != null ? given : role + "-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
  }

  // ---- roles ----------------------------------------------------------------------------------------------

  private static void startProducer(String namesrv, String group, Map<String, String> options) throws Exception {
    producer = new DefaultMQProducer(group);
    producer.setNamesrvAddr(namesrv);
    configure(producer, options, "producer");
    if (options.containsKey("compressOver")) {
      producer.setCompressMsgBodyOverHowmuch(Integer.parseInt(options.get("compressOver")));
    }
    if (options.containsKey("sendMsgTimeout")) producer.setSendMsgTimeout(Integer.parseInt(options.get("sendMsgTimeout")));
    if (options.containsKey("retryTimes")) producer.setRetryTimesWhenSendFailed(Integer.parseInt(options.get("retryTimes")));
    if (options.containsKey("maxMessageSize")) producer.setMaxMessageSize(Integer.parseInt(options.get("maxMessageSize")));
    producer.start();
    JSONObject ready = new JSONObject();
    ready.put("event", "ready");
    ready.put("role", "producer");
    ready.put("clientId", producer.getDefaultMQProducerImpl().getMqClientFactory().getClientId());
    emit(ready);
  }

  private static DefaultMQPushConsumer pushConsumer(
    String namesrv, String group, Map<String, String> options, String role
  ) {
    DefaultMQPushConsumer c = new DefaultMQPushConsumer(group);
    c.setNamesrvAddr(namesrv);
    configure(c, options, role);
    c.setConsumeMessageBatchMaxSize(Integer.parseInt(options.getOrDefault("batch", "1")));
    if (options.containsKey("pullBatchSize")) c.setPullBatchSize(Integer.parseInt(options.get("pullBatchSize")));
    if (options.containsKey("consumeThreads")) {
      int threads = Integer.parseInt(options.get("consumeThreads"));
      c.setConsumeThreadMin(threads);
      c.setConsumeThreadMax(threads);
    }
    return c;
  }

  private static ConsumeFromWhere consumeFrom(String from) {
    String name = from.startsWith("CONSUME_FROM_") ? from : "CONSUME_FROM_" + from;
    return ConsumeFromWhere.valueOf(name);
  }

  private static void startConsumer(
    String namesrv, String group, String topic, String expression, Map<String, String> options
  ) throws Exception {
    consumerTopic = topic;
    consumer = pushConsumer(namesrv, group, options, "consumer");
    consumer.setMessageModel(MessageModel.valueOf(options.getOrDefault("messageModel", "CLUSTERING")));
    consumer.setConsumeFromWhere(consumeFrom(options.getOrDefault("from", "FIRST_OFFSET")));
    if (options.containsKey("timestamp")) consumer.setConsumeTimestamp(options.get("timestamp"));
    if (options.containsKey("maxReconsumeTimes")) {
      consumer.setMaxReconsumeTimes(Integer.parseInt(options.get("maxReconsumeTimes")));
    }
    if ("SQL92".equals(options.get("expressionType"))) consumer.subscribe(topic, MessageSelector.bySql(expression));
    else consumer.subscribe(topic, expression);
    consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
      boolean fail = takeFailure();
      if (fail && failDelayLevel != 0) context.setDelayLevelWhenNextConsume(failDelayLevel);
      String result = fail ? "RECONSUME_LATER" : "CONSUME_SUCCESS";
      for (MessageExt message : messages) emit(messageEvent(message, result));
      return fail ? ConsumeConcurrentlyStatus.RECONSUME_LATER : ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
    });
    consumer.start();
    JSONObject ready = new JSONObject();
    ready.put("event", "ready");
    ready.put("role", "consumer");
    ready.put("clientId", consumerClientId());
    emit(ready);
  }

  private static boolean takeFailure() {
    while (true) {
      int left = failNext.get();
      if (left <= 0) return false;
      if (failNext.compareAndSet(left, left - 1)) return true;
    }
  }

  private static String consumerClientId() {
    return consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId();
  }

  private static void benchConsume(
    String namesrv, String group, String topic, int count, Map<String, String> options
  ) throws Exception {
    DefaultMQPushConsumer c = pushConsumer(namesrv, group, options, "bench-consume");
    c.setMessageModel(MessageModel.CLUSTERING);
    c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
    c.subscribe(topic, "*");
    AtomicInteger consumed = new AtomicInteger();
    AtomicLong firstAt = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);
    c.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
      firstAt.compareAndSet(0, System.nanoTime());
      int now = consumed.addAndGet(messages.size());
      if (now >= count) done.countDown();
      return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
    });
    com.sun.management.OperatingSystemMXBean os =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpu0 = os.getProcessCpuTime();
    long t0 = System.nanoTime();
    c.start();
    JSONObject ready = new JSONObject();
    ready.put("event", "ready");
    ready.put("role", "bench-consume");
    ready.put("clientId", c.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId());
    emit(ready);
    boolean finished = done.await(Long.parseLong(options.getOrDefault("timeoutSeconds", "600")), TimeUnit.SECONDS);
    long elapsed = System.nanoTime() - t0;
    long cpu = os.getProcessCpuTime();
    JSONObject result = new JSONObject();
    result.put("event", "done");
    result.put("ok", finished);
    result.put("count", consumed.get());
    result.put("elapsedMs", elapsed / 1e6);
    result.put("firstMessageMs", firstAt.get() == 0 ? null : (firstAt.get() - t0) / 1e6);
    result.put("cpuMs", (cpu - cpu0) / 1e6);
    result.put("processCpuMs", cpu / 1e6);
    emit(result);
    c.shutdown();
    System.exit(finished ? 0 : 1);
  }

  // ---- commands -------------------------------------------------------------------------------------------

  private static void commandLoop() throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.trim().isEmpty()) continue;
      JSONObject answer;
      Object id = null;
      boolean exit = false;
      try {
        JSONObject command = JSON.parseObject(line);
        id = command.get("id");
        String op = command.getString("op");
        exit = "shutdown".equals(op);
        answer = run(op == null ? "" : op, command);
      } catch (Throwable e) {
        answer = failure(e);
      }
      if (id != null) answer.put("id", id);
      if (exit) {
        shutdownClient();
        emit(answer);
        System.exit(0);
      }
      emit(answer);
    }
    shutdownClient();
    System.exit(0);
  }

  private static void shutdownClient() {
    if (producer != null) producer.shutdown();
    if (consumer != null) consumer.shutdown();
  }

  private static JSONObject run(String op, JSONObject command) throws Exception {
    switch (op) {
      case "shutdown":
        return ok();
      case "send":
      case "sendBatch":
      case "sendOrdered":
      case "queueFor":
      case "publishQueues":
        if (producer == null) throw new IllegalStateException(op + " needs the producer role");
        return producerCommand(op, command);
      case "assignment":
      case "clientId":
      case "failNext":
        if (consumer == null) throw new IllegalStateException(op + " needs the consumer role");
        return consumerCommand(op, command);
      default:
        throw new IllegalArgumentException("unknown op: " + op);
    }
  }

  private static JSONObject producerCommand(String op, JSONObject command) throws Exception {
    String topic = command.getString("topic");
    switch (op) {
      case "send": {
        Message message = message(topic, command);
        JSONObject queue = command.getJSONObject("queue");
        SendResult result = queue == null
          ? producer.send(message)
          : producer.send(message, new MessageQueue(topic, queue.getString("brokerName"), queue.getIntValue("queueId")));
        return sendResult(result);
      }
      case "sendBatch": {
        JSONArray entries = command.getJSONArray("messages");
        List<Message> messages = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) messages.add(message(topic, entries.getJSONObject(i)));
        return sendResult(producer.send(messages));
      }
      case "sendOrdered":
        return sendResult(producer.send(message(topic, command), new SelectMessageQueueByHash(), command.getString("key")));
      case "queueFor": {
        List<MessageQueue> queues = producer.fetchPublishMessageQueues(topic);
        MessageQueue picked = new SelectMessageQueueByHash().select(queues, null, command.getString("key"));
        JSONObject answer = ok();
        answer.put("queue", queue(picked));
        answer.put("queues", queues(queues));
        return answer;
      }
      case "publishQueues": {
        JSONObject answer = ok();
        answer.put("queues", queues(producer.fetchPublishMessageQueues(topic)));
        return answer;
      }
      default:
        throw new IllegalArgumentException("unknown op: " + op);
    }
  }

  private static JSONObject consumerCommand(String op, JSONObject command) {
    JSONObject answer = ok();
    switch (op) {
      case "assignment": {
        String topic = command.containsKey("topic") ? command.getString("topic") : consumerTopic;
        List<MessageQueue> assigned = new ArrayList<>();
        for (Map.Entry<MessageQueue, ProcessQueue> entry
          : consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().entrySet()) {
          if (entry.getKey().getTopic().equals(topic) && !entry.getValue().isDropped()) assigned.add(entry.getKey());
        }
        Collections.sort(assigned);
        answer.put("queues", queues(assigned));
        return answer;
      }
      case "clientId":
        answer.put("clientId", consumerClientId());
        return answer;
      case "failNext":
        failDelayLevel = command.getIntValue("delayLevel", 0);
        failNext.set(command.getIntValue("count", 1));
        return answer;
      default:
        throw new IllegalArgumentException("unknown op: " + op);
    }
  }

  // ---- JSON -----------------------------------------------------------------------------------------------

  private static Message message(String topic, JSONObject fields) {
    String body = fields.getString("body");
    Message message = new Message(topic, body == null ? new byte[0] : Base64.getDecoder().decode(body));
    if (fields.containsKey("tags")) message.setTags(fields.getString("tags"));
    JSONArray keys = fields.getJSONArray("keys");
    if (keys != null) message.setKeys(keys.toJavaList(String.class));
    if (fields.containsKey("delayLevel")) message.setDelayTimeLevel(fields.getIntValue("delayLevel"));
    if (fields.containsKey("deliverAt")) message.setDeliverTimeMs(fields.getLongValue("deliverAt"));
    if (fields.containsKey("delayMs")) message.setDelayTimeMs(fields.getLongValue("delayMs"));
    if (fields.containsKey("flag")) message.setFlag(fields.getIntValue("flag"));
    if (fields.containsKey("waitStoreMsgOK")) message.setWaitStoreMsgOK(fields.getBooleanValue("waitStoreMsgOK"));
    JSONObject properties = fields.getJSONObject("properties");
    if (properties != null) {
      for (String name : properties.keySet()) message.putUserProperty(name, properties.getString(name));
    }
    return message;
  }

  private static JSONObject ok() {
    JSONObject answer = new JSONObject();
    answer.put("ok", true);
    return answer;
  }

  private static JSONObject queue(MessageQueue queue) {
    if (queue == null) return null;
    JSONObject json = new JSONObject();
    json.put("topic", queue.getTopic());
    json.put("brokerName", queue.getBrokerName());
    json.put("queueId", queue.getQueueId());
    return json;
  }

  private static JSONArray queues(List<MessageQueue> queues) {
    JSONArray array = new JSONArray();
    for (MessageQueue queue : queues) array.add(queue(queue));
    return array;
  }

  private static JSONObject sendResult(SendResult result) {
    JSONObject answer = ok();
    answer.put("status", result.getSendStatus().name());
    answer.put("msgId", result.getMsgId());
    answer.put("offsetMsgId", result.getOffsetMsgId());
    answer.put("queue", queue(result.getMessageQueue()));
    answer.put("queueOffset", result.getQueueOffset());
    return answer;
  }

  private static JSONObject messageEvent(MessageExt message, String consumeResult) {
    JSONObject event = new JSONObject();
    event.put("event", "message");
    event.put("msgId", message.getMsgId());
    event.put("offsetMsgId",
      message instanceof MessageClientExt ? ((MessageClientExt) message).getOffsetMsgId() : message.getMsgId());
    event.put("topic", message.getTopic());
    event.put("tags", message.getTags());
    String keys = message.getKeys();
    JSONArray keyList = new JSONArray();
    if (keys != null) {
      for (String key : keys.split(" ")) {
        if (!key.isEmpty()) keyList.add(key);
      }
    }
    event.put("keys", keyList);
    byte[] body = message.getBody();
    event.put("body", Base64.getEncoder().encodeToString(body == null ? new byte[0] : body));
    event.put("reconsumeTimes", message.getReconsumeTimes());
    event.put("queueId", message.getQueueId());
    event.put("queueOffset", message.getQueueOffset());
    event.put("brokerName", message.getBrokerName());
    event.put("bornTimestamp", message.getBornTimestamp());
    event.put("storeTimestamp", message.getStoreTimestamp());
    event.put("commitLogOffset", message.getCommitLogOffset());
    event.put("sysFlag", message.getSysFlag());
    event.put("bodyCRC", message.getBodyCRC());
    event.put("storeSize", message.getStoreSize());
    event.put("flag", message.getFlag());
    event.put("bornHost", hostPort(message.getBornHost()));
    event.put("storeHost", hostPort(message.getStoreHost()));
    JSONObject properties = new JSONObject();
    for (Map.Entry<String, String> entry : message.getProperties().entrySet()) {
      properties.put(entry.getKey(), entry.getValue());
    }
    event.put("properties", properties);
    event.put("consumeResult", consumeResult);
    return event;
  }

  private static String hostPort(java.net.SocketAddress address) {
    if (!(address instanceof java.net.InetSocketAddress)) return String.valueOf(address);
    java.net.InetSocketAddress inet = (java.net.InetSocketAddress) address;
    String host = inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + inet.getPort();
  }

  private static String describe(Throwable e) {
    StringBuilder text = new StringBuilder(String.valueOf(e));
    Throwable cause = e.getCause();
    for (int depth = 0; cause != null && depth < 3; depth++, cause = cause.getCause()) {
      text.append(" (caused by ").append(cause).append(")");
    }
    return text.toString();
  }

  private static JSONObject failure(Throwable e) {
    JSONObject answer = new JSONObject();
    answer.put("ok", false);
    answer.put("error", describe(e));
    answer.put("errorClass", e.getClass().getName());
    if (e instanceof MQBrokerException) answer.put("code", ((MQBrokerException) e).getResponseCode());
    else if (e instanceof MQClientException) answer.put("code", ((MQClientException) e).getResponseCode());
    return answer;
  }
}
