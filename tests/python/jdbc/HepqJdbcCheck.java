// pgjdbc against `hepq serve`: compiled with javac and run by tests/python/test_server_clients.py
// (test_pgjdbc), which compares what this prints with DuckDB and with PostgreSQL's type names.
//
// Usage: java -cp .:postgresql.jar HepqJdbcCheck jdbc:postgresql://127.0.0.1:PORT/hepq
// Prints one tab-separated record per line: a kind, then its values (NULL as \N).

import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class HepqJdbcCheck {
    static void out(Object... fields) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) {
                line.append('\t');
            }
            line.append(fields[i] == null ? "\\N" : fields[i].toString());
        }
        System.out.println(line);
    }

    /** An SQL array as [a, b, …] with \N for NULL elements; \N for a NULL array. */
    static String array(Array a) throws Exception {
        if (a == null) {
            return null;
        }
        Object[] items = (Object[]) a.getArray();
        List<String> parts = new ArrayList<>();
        for (Object item : items) {
            parts.add(item == null ? "\\N" : item.toString());
        }
        return "[" + String.join(", ", parts) + "]";
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", "hepq");
        try (Connection c = DriverManager.getConnection(args[0], props)) {
            DatabaseMetaData md = c.getMetaData();
            out("product", md.getDatabaseProductName(), md.getDatabaseMajorVersion());
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rs.next()) {
                    out("table", rs.getString("TABLE_SCHEM"), rs.getString("TABLE_NAME"),
                        rs.getString("TABLE_TYPE"));
                }
            }
            try (ResultSet rs = md.getColumns(null, "public", "types", "%")) {
                while (rs.next()) {
                    out("column", rs.getString("COLUMN_NAME"), rs.getString("TYPE_NAME"),
                        rs.getInt("DATA_TYPE"), rs.getInt("ORDINAL_POSITION"),
                        rs.getString("IS_NULLABLE"));
                }
            }
            // Prepared statements with parameters (one NULL), arrays with getArray.
            String sql = "SELECT id, name, vals, ints, make_array(flag, NOT flag) AS flags "
                + "FROM types WHERE id < ? AND (i32 > ? OR i32 IS NULL) ORDER BY id";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int round = 0; round < 6; round++) { // pgjdbc prepares on the server after 5
                    ps.setLong(1, 20);
                    ps.setInt(2, -1000);
                    int n = 0;
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            if (round == 5) {
                                out("row", rs.getLong("id"), rs.getString("name"),
                                    array(rs.getArray("vals")), array(rs.getArray("ints")),
                                    array(rs.getArray("flags")));
                            }
                            n++;
                        }
                    }
                    out("count", round, n);
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM types WHERE i32 = ?")) {
                ps.setNull(1, Types.INTEGER);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    out("null_param", rs.getLong(1));
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM types WHERE ints IS NOT DISTINCT FROM ?")) {
                ps.setArray(1, c.createArrayOf("int4", new Integer[] {0, 1, 2}));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    out("array_param", rs.getLong(1));
                }
            }
            // setFetchSize with autocommit off: pgjdbc reads through a portal, fetchSize rows
            // per Execute.
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.setFetchSize(1000);
                long n = 0;
                long sum = 0;
                try (ResultSet rs = s.executeQuery("SELECT value FROM generate_series(1, 100000)")) {
                    while (rs.next()) {
                        n++;
                        sum += rs.getLong(1);
                    }
                }
                out("fetch", n, sum);
                s.setFetchSize(100);
                try (ResultSet rs = s.executeQuery("SELECT value FROM generate_series(1, 1000000000000)")) {
                    long m = 0;
                    while (m < 2500 && rs.next()) {
                        m++;
                    }
                    out("huge", m);
                }
            }
            c.commit();
            out("done");
        }
    }
}
