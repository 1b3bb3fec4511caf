import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.rocketmq.remoting.protocol.LanguageCode;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/**
 * Apache RocketMQ's own RemotingCommand codec as a test oracle for the TypeScript codec
 * (packages/remoting/test/JavaRemoting.ts runs it). Reads JSON lines on stdin, writes one JSON line on stdout per
 * input line, in order, flushed after each line, and exits at the end of its input.
 *
 * <pre>
 * java -cp ... RemotingVectors encode
 *   in:  {"code":105,"language":"JAVA","version":479,"opaque":1,"flag":0,"remark":null|"..",
 *         "extFields":[["k","v"],...]|null,"bodyHex":"..."}
 *   out: {"jsonHex":"..","rocketmqHex":".."}     both whole frames (4-byte length included), from cmd.encode()
 *        {"error":"..","jsonHex":..|null,"rocketmqHex":..|null}   when Java throws for one type or both
 * java -cp ... RemotingVectors decode
 *   in:  {"frameHex":".."}                        a whole frame, 4-byte length included
 *   out: {"serializeType":"JSON"|"ROCKETMQ","code":..,"language":"JAVA"|null,"version":..,"opaque":..,"flag":..,
 *         "remark":..|null,"extFields":[[k,v],...]|null (sorted by key, nulls first),"bodyHex":".."}
 *        {"error":".."}
 * </pre>
 *
 * extFields go into a LinkedHashMap, so Java iterates them (and fastjson and the binary encoder write them) in
 * input order. Nothing but these lines reaches stdout: System.out is pointed at stderr before any RocketMQ class
 * loads, and the results go to the original stdout file descriptor.
 */
public final class RemotingVectors {
    private RemotingVectors() {
    }

    public static void main(String[] args) throws Exception {
        // Whatever RocketMQ's logging (or anything else) prints to System.out lands on stderr.
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true, "UTF-8"));
        Writer out = new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8);
        if (args.length != 1 || !(args[0].equals("encode") || args[0].equals("decode"))) {
            System.err.println("usage: RemotingVectors encode|decode  (JSON lines on stdin)");
            System.exit(2);
        }
        boolean encode = args[0].equals("encode");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.trim().isEmpty()) {
                continue;
            }
            String result;
            try {
                Object input = new Json(line).parseDocument();
                result = encode ? encode(asMap(input)) : decode(asMap(input));
            } catch (Throwable e) {
                result = "{\"error\":" + Json.quote("input: " + describe(e)) + "}";
            }
            out.write(result);
            out.write('\n');
            out.flush();
        }
        out.flush();
    }

    // ---- encode ------------------------------------------------------------------------------------------------

    private static String encode(Map<String, Object> input) throws Exception {
        RemotingCommand cmd = RemotingCommand.createRequestCommand(asInt(input.get("code")), null);
        String language = (String) input.get("language");
        LanguageCode languageCode = LanguageCode.getCode(language);
        if (languageCode == null) {
            throw new IllegalArgumentException("unknown language name " + language);
        }
        cmd.setLanguage(languageCode);
        cmd.setVersion(asInt(input.get("version")));
        cmd.setOpaque(asInt(input.get("opaque")));
        cmd.setFlag(asInt(input.get("flag")));
        cmd.setRemark((String) input.get("remark"));
        Object ext = input.get("extFields");
        if (ext != null) {
            LinkedHashMap<String, String> map = new LinkedHashMap<>();
            for (Object entry : (List<?>) ext) {
                List<?> pair = (List<?>) entry;
                map.put((String) pair.get(0), (String) pair.get(1));
            }
            cmd.setExtFields(map);
        }
        byte[] body = unhex((String) input.get("bodyHex"));
        cmd.setBody(body.length == 0 ? null : body);

        String jsonHex = null;
        String rocketmqHex = null;
        List<String> errors = new ArrayList<>();
        try {
            cmd.setSerializeTypeCurrentRPC(SerializeType.JSON);
            jsonHex = hex(cmd.encode());
        } catch (Throwable e) {
            errors.add("JSON: " + describe(e));
        }
        try {
            cmd.setSerializeTypeCurrentRPC(SerializeType.ROCKETMQ);
            rocketmqHex = hex(cmd.encode());
        } catch (Throwable e) {
            errors.add("ROCKETMQ: " + describe(e));
        }
        StringBuilder sb = new StringBuilder("{");
        if (!errors.isEmpty()) {
            sb.append("\"error\":").append(Json.quote(String.join("; ", errors))).append(',');
        }
        sb.append("\"jsonHex\":").append(jsonHex == null ? "null" : Json.quote(jsonHex));
        sb.append(",\"rocketmqHex\":").append(rocketmqHex == null ? "null" : Json.quote(rocketmqHex));
        return sb.append('}').toString();
    }

    // ---- decode ------------------------------------------------------------------------------------------------

    private static String decode(Map<String, Object> input) {
        byte[] frame = unhex((String) input.get("frameHex"));
        try {
            if (frame.length < 4) {
                throw new IllegalArgumentException("frame shorter than its 4-byte length");
            }
            int length = ByteBuffer.wrap(frame, 0, 4).getInt();
            if (length != frame.length - 4) {
                throw new IllegalArgumentException("length field " + length + " but " + (frame.length - 4) + " bytes follow");
            }
            ByteBuffer payload = ByteBuffer.wrap(frame, 4, frame.length - 4).slice();
            RemotingCommand cmd = RemotingCommand.decode(payload);
            StringBuilder sb = new StringBuilder("{");
            sb.append("\"serializeType\":").append(cmd.getSerializeTypeCurrentRPC() == null ? "null" : Json.quote(cmd.getSerializeTypeCurrentRPC().name()));
            sb.append(",\"code\":").append(cmd.getCode());
            sb.append(",\"language\":").append(cmd.getLanguage() == null ? "null" : Json.quote(cmd.getLanguage().name()));
            sb.append(",\"version\":").append(cmd.getVersion());
            sb.append(",\"opaque\":").append(cmd.getOpaque());
            sb.append(",\"flag\":").append(cmd.getFlag());
            sb.append(",\"remark\":").append(cmd.getRemark() == null ? "null" : Json.quote(cmd.getRemark()));
            HashMap<String, String> ext = cmd.getExtFields();
            sb.append(",\"extFields\":");
            if (ext == null) {
                sb.append("null");
            } else {
                List<Map.Entry<String, String>> entries = new ArrayList<>(ext.entrySet());
                entries.sort(Map.Entry.comparingByKey(Comparator.nullsFirst(Comparator.<String>naturalOrder())));
                sb.append('[');
                for (int i = 0; i < entries.size(); i++) {
                    Map.Entry<String, String> e = entries.get(i);
                    if (i > 0) {
                        sb.append(',');
                    }
                    sb.append('[').append(e.getKey() == null ? "null" : Json.quote(e.getKey())).append(',')
                        .append(e.getValue() == null ? "null" : Json.quote(e.getValue())).append(']');
                }
                sb.append(']');
            }
            byte[] body = cmd.getBody();
            sb.append(",\"bodyHex\":").append(Json.quote(body == null ? "" : hex(body)));
            return sb.append('}').toString();
        } catch (Throwable e) {
            return "{\"error\":" + Json.quote(describe(e)) + "}";
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static String describe(Throwable e) {
        return e.getClass().getName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object value) {
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException("expected a JSON object");
        }
        return (Map<String, Object>) value;
    }

    private static int asInt(Object value) {
        double d = (Double) value;
        if (d != Math.rint(d) || d < Integer.MIN_VALUE || d > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("not a Java int: " + value);
        }
        return (int) d;
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static String hex(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return hex(bytes);
    }

    private static String hex(byte[] bytes) {
        char[] chars = new char[bytes.length * 2];
        for (int i = 0; i < bytes.length; i++) {
            chars[2 * i] = HEX[(bytes[i] >> 4) & 0xF];
            chars[2 * i + 1] = HEX[bytes[i] & 0xF];
        }
        return new String(chars);
    }

    private static byte[] unhex(String hex) {
        if (hex == null) {
            return new byte[0];
        }
        if (hex.length() % 2 != 0) {
            throw new IllegalArgumentException("odd-length hex");
        }
        byte[] bytes = new byte[hex.length() / 2];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return bytes;
    }

    /**
     * A minimal, strict JSON reader (objects keep their key order, numbers become Double) and a string quoter
     * that escapes every char outside printable ASCII as \\uXXXX, so any Java string (lone surrogates included)
     * reaches the test unchanged. Deliberately not fastjson: the oracle's plumbing must not share the quirks of
     * the code under test.
     */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) {
            this.s = s;
        }

        Object parseDocument() {
            Object value = parseValue();
            skipWs();
            if (i != s.length()) {
                throw error("trailing characters");
            }
            return value;
        }

        private RuntimeException error(String what) {
            return new IllegalArgumentException("JSON: " + what + " at " + i);
        }

        private void skipWs() {
            while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
        }

        private Object parseValue() {
            skipWs();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{': {
                    i++;
                    Map<String, Object> map = new LinkedHashMap<>();
                    skipWs();
                    if (peek('}')) {
                        return map;
                    }
                    do {
                        skipWs();
                        if (s.charAt(i) != '"') {
                            throw error("expected a key");
                        }
                        String key = parseString();
                        skipWs();
                        expect(':');
                        map.put(key, parseValue());
                        skipWs();
                    } while (peek(','));
                    expect('}');
                    return map;
                }
                case '[': {
                    i++;
                    List<Object> list = new ArrayList<>();
                    skipWs();
                    if (peek(']')) {
                        return list;
                    }
                    do {
                        list.add(parseValue());
                        skipWs();
                    } while (peek(','));
                    expect(']');
                    return list;
                }
                case '"':
                    return parseString();
                case 't':
                    literal("true");
                    return Boolean.TRUE;
                case 'f':
                    literal("false");
                    return Boolean.FALSE;
                case 'n':
                    literal("null");
                    return null;
                default: {
                    int start = i;
                    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                        i++;
                    }
                    if (start == i) {
                        throw error("unexpected character");
                    }
                    return Double.valueOf(s.substring(start, i));
                }
            }
        }

        private boolean peek(char c) {
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!peek(c)) {
                throw error("expected '" + c + "'");
            }
        }

        private void literal(String word) {
            if (!s.startsWith(word, i)) {
                throw error("expected " + word);
            }
            i += word.length();
        }

        private String parseString() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return sb.toString();
                }
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case '"': sb.append('"'); break;
                    case '\\': sb.append('\\'); break;
                    case '/': sb.append('/'); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'n': sb.append('\n'); break;
                    case 'r': sb.append('\r'); break;
                    case 't': sb.append('\t'); break;
                    case 'u':
                        sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                        break;
                    default:
                        throw error("bad escape");
                }
            }
        }

        static String quote(String value) {
            StringBuilder sb = new StringBuilder(value.length() + 2).append('"');
            for (int k = 0; k < value.length(); k++) {
                char c = value.charAt(k);
                if (c == '"' || c == '\\') {
                    sb.append('\\').append(c);
                } else if (c >= 0x20 && c < 0x7F) {
                    sb.append(c);
                } else {
                    sb.append(String.format("\\u%04x", (int) c));
                }
            }
            return sb.append('"').toString();
        }
    }
}
