import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.producer.selector.SelectMessageQueueByHash;
import org.apache.rocketmq.common.UtilAll;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageAccessor;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageClientIDSetter;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageId;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * Apache RocketMQ's own message codecs as a test oracle for packages/client (test/JavaCodecOracle.ts runs it).
 * Reads one command per line on stdin (tab-separated, strings as hex so that any text survives) and writes one
 * line per command on stdout, in order; a command Java throws on answers "error\t<message>".
 *
 * <pre>
 * hash     utf16beHex                          → String.hashCode()
 * select   n  utf16beHex                       → index SelectMessageQueueByHash picks among n queues
 * uniq     id                                  → ip \t pid \t getNearlyTimeFromID(id) (epoch ms)
 * newuniq                                      → createUniqID() \t currentTimeMillis() before \t after
 * msgid    id                                  → decodeMessageId: hostAddress:port \t offset
 * props    utf8Hex                             → string2messageProperties, sorted: k=v pairs as hex, ","-joined
 * encode   topicHex bodyHex propsHex flag queueId queueOffset commitLogOffset sysFlag bornTs bornIp bornPort
 *          storeTs storeIp storePort reconsumeTimes preparedTxOffset bodyCRC compress
 *                                              → MessageDecoder.encode(msg, compress) as hex
 *          (propsHex: a property string, loaded in order into a LinkedHashMap; ips as hex bytes)
 * decode   hex                                 → per record MessageDecoder.decodes: fields joined by "|", records by ";"
 * batch    (bodyHex,flag,propsHex)+ joined by ";"  → MessageDecoder.encodeMessages as hex
 * allocate queues(topic@broker@id ","-joined) members(","-joined) self
 *                                              → sorted as RebalanceImpl does, AllocateMessageQueueAveragely: keys ","-joined
 * </pre>
 *
 * Nothing but these lines reaches stdout: System.out is pointed at stderr before any RocketMQ class loads.
 */
public final class CodecVectors {
    private CodecVectors() {
    }

    public static void main(String[] args) throws Exception {
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true, "UTF-8"));
        Writer out = new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            String result;
            try {
                result = run(line.split("\t", -1));
            } catch (Throwable e) {
                result = "error\t" + String.valueOf(e).replace('\n', ' ').replace('\t', ' ');
            }
            out.write(result);
            out.write('\n');
            out.flush();
        }
    }

    private static String run(String[] f) throws Exception {
        switch (f[0]) {
            case "hash":
                return Integer.toString(utf16(f[1]).hashCode());
            case "select": {
                int n = Integer.parseInt(f[1]);
                List<MessageQueue> queues = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    queues.add(new MessageQueue("T", "b", i));
                }
                return Integer.toString(new SelectMessageQueueByHash().select(queues, null, utf16(f[2])).getQueueId());
            }
            case "uniq":
                return MessageClientIDSetter.getIPStrFromID(f[1]) + "\t" + MessageClientIDSetter.getPidFromID(f[1])
                    + "\t" + MessageClientIDSetter.getNearlyTimeFromID(f[1]).getTime();
            case "newuniq": {
                long before = System.currentTimeMillis();
                String id = MessageClientIDSetter.createUniqID();
                long after = System.currentTimeMillis();
                return id + "\t" + before + "\t" + after;
            }
            case "msgid": {
                MessageId id = MessageDecoder.decodeMessageId(f[1]);
                InetSocketAddress address = (InetSocketAddress) id.getAddress();
                return address.getAddress().getHostAddress() + ":" + address.getPort() + "\t" + id.getOffset();
            }
            case "props": {
                Map<String, String> sorted = new TreeMap<>(
                    MessageDecoder.string2messageProperties(new String(unhex(f[1]), StandardCharsets.UTF_8)));
                StringBuilder sb = new StringBuilder();
                for (Map.Entry<String, String> e : sorted.entrySet()) {
                    if (sb.length() > 0) {
                        sb.append(',');
                    }
                    sb.append(hex(e.getKey().getBytes(StandardCharsets.UTF_8))).append('=')
                        .append(hex(e.getValue().getBytes(StandardCharsets.UTF_8)));
                }
                return sb.toString();
            }
            case "encode": {
                MessageExt msg = new MessageExt();
                msg.setTopic(new String(unhex(f[1]), StandardCharsets.UTF_8));
                msg.setBody(unhex(f[2]));
                MessageAccessor.setProperties(msg, orderedProperties(f[3]));
                msg.setFlag(Integer.parseInt(f[4]));
                msg.setQueueId(Integer.parseInt(f[5]));
                msg.setQueueOffset(Long.parseLong(f[6]));
                msg.setCommitLogOffset(Long.parseLong(f[7]));
                msg.setSysFlag(Integer.parseInt(f[8]));
                msg.setBornTimestamp(Long.parseLong(f[9]));
                msg.setBornHost(new InetSocketAddress(InetAddress.getByAddress(unhex(f[10])), Integer.parseInt(f[11])));
                msg.setStoreTimestamp(Long.parseLong(f[12]));
                msg.setStoreHost(new InetSocketAddress(InetAddress.getByAddress(unhex(f[13])), Integer.parseInt(f[14])));
                msg.setReconsumeTimes(Integer.parseInt(f[15]));
                msg.setPreparedTransactionOffset(Long.parseLong(f[16]));
                msg.setBodyCRC(Integer.parseInt(f[17]));
                return hex(MessageDecoder.encode(msg, Boolean.parseBoolean(f[18])));
            }
            case "decode": {
                List<MessageExt> messages = MessageDecoder.decodes(ByteBuffer.wrap(unhex(f[1])));
                StringBuilder sb = new StringBuilder();
                for (MessageExt m : messages) {
                    if (sb.length() > 0) {
                        sb.append(';');
                    }
                    Map<String, String> sorted = new TreeMap<>();
                    if (m.getProperties() != null) {
                        sorted.putAll(m.getProperties());
                    }
                    StringBuilder props = new StringBuilder();
                    for (Map.Entry<String, String> e : sorted.entrySet()) {
                        props.append(e.getKey()).append('\u0001').append(e.getValue()).append('\u0002');
                    }
                    sb.append(hex(m.getTopic().getBytes(StandardCharsets.UTF_8))).append('|')
                        .append(hex(m.getBody() == null ? new byte[0] : m.getBody())).append('|')
                        .append(hex(props.toString().getBytes(StandardCharsets.UTF_8))).append('|')
                        .append(m.getFlag()).append('|')
                        .append(m.getQueueId()).append('|')
                        .append(m.getQueueOffset()).append('|')
                        .append(m.getCommitLogOffset()).append('|')
                        .append(m.getSysFlag()).append('|')
                        .append(m.getBornTimestamp()).append('|')
                        .append(host((InetSocketAddress) m.getBornHost())).append('|')
                        .append(m.getStoreTimestamp()).append('|')
                        .append(host((InetSocketAddress) m.getStoreHost())).append('|')
                        .append(m.getReconsumeTimes()).append('|')
                        .append(m.getPreparedTransactionOffset()).append('|')
                        .append(m.getBodyCRC()).append('|')
                        .append(m.getStoreSize()).append('|')
                        .append(m.getMsgId()).append('|')
                        .append(((MessageClientExt) m).getOffsetMsgId()).append('|')
                        .append(m.getTags()).append('|')
                        .append(m.getDelayTimeLevel());
                }
                return sb.toString();
            }
            case "batch": {
                List<Message> messages = new ArrayList<>();
                for (String entry : f[1].split(";", -1)) {
                    String[] p = entry.split(",", -1);
                    Message m = new Message();
                    m.setBody(unhex(p[0]));
                    m.setFlag(Integer.parseInt(p[1]));
                    MessageAccessor.setProperties(m, orderedProperties(p[2]));
                    messages.add(m);
                }
                return hex(MessageDecoder.encodeMessages(messages));
            }
            case "allocate": {
                List<MessageQueue> mqAll = new ArrayList<>();
                for (String key : f[1].split(",")) {
                    String[] p = key.split("@");
                    mqAll.add(new MessageQueue(p[0], p[1], Integer.parseInt(p[2])));
                }
                List<String> cidAll = new ArrayList<>();
                Collections.addAll(cidAll, f[2].split(","));
                Collections.sort(mqAll);
                Collections.sort(cidAll);
                List<MessageQueue> mine = new AllocateMessageQueueAveragely().allocate("g", f[3], mqAll, cidAll);
                StringBuilder sb = new StringBuilder();
                for (MessageQueue q : mine) {
                    if (sb.length() > 0) {
                        sb.append(',');
                    }
                    sb.append(q.getTopic()).append('@').append(q.getBrokerName()).append('@').append(q.getQueueId());
                }
                return sb.toString();
            }
            default:
                throw new IllegalArgumentException("unknown command " + f[0]);
        }
    }

    /** A property string, in its order (string2messageProperties would return a HashMap). */
    private static Map<String, String> orderedProperties(String utf8Hex) {
        Map<String, String> map = new LinkedHashMap<>();
        String text = new String(unhex(utf8Hex), StandardCharsets.UTF_8);
        for (String pair : text.split("\u0002")) {
            int at = pair.indexOf('\u0001');
            if (at > 0) {
                map.put(pair.substring(0, at), pair.substring(at + 1));
            }
        }
        return map;
    }

    private static String host(InetSocketAddress address) {
        return address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    /** Four hex digits per UTF-16 code unit, lone surrogates kept (a charset decoder would replace them). */
    private static String utf16(String hex) {
        char[] chars = new char[hex.length() / 4];
        for (int i = 0; i < chars.length; i++) {
            chars[i] = (char) Integer.parseInt(hex.substring(4 * i, 4 * i + 4), 16);
        }
        return new String(chars);
    }

    private static byte[] unhex(String hex) {
        byte[] out = new byte[hex.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    private static String hex(byte[] bytes) {
        return UtilAll.bytes2string(bytes).toLowerCase();
    }
}
