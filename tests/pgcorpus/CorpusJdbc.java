// pgjdbc's part of the compatibility corpus (tests/pgcorpus/scenarios.py): the metadata calls
// and statements a BI tool makes, run against PostgreSQL 15 while its statements are logged.
//
// Usage: java -cp .:postgresql.jar CorpusJdbc jdbc:postgresql://127.0.0.1:PORT/hepq

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.Properties;

public class CorpusJdbc {
    static void drain(ResultSet rs) throws Exception {
        try (rs) {
            ResultSetMetaData md = rs.getMetaData();
            while (rs.next()) {
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    rs.getObject(i);
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", "hepq");
        try (Connection c = DriverManager.getConnection(args[0], props)) {
            DatabaseMetaData md = c.getMetaData();
            md.getDatabaseProductVersion();
            drain(md.getCatalogs());
            drain(md.getSchemas());
            drain(md.getTableTypes());
            drain(md.getTables(null, "public", "%", new String[] {"TABLE", "VIEW"}));
            drain(md.getColumns(null, "public", "types", "%"));
            drain(md.getColumns(null, "public", "events", "Muon%"));
            drain(md.getPrimaryKeys(null, "public", "types"));
            drain(md.getImportedKeys(null, "public", "types"));
            drain(md.getIndexInfo(null, "public", "types", false, true));
            drain(md.getTypeInfo());
            drain(md.getFunctions(null, "pg_catalog", "version"));
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT id, name, vals, ints FROM types WHERE id < ? ORDER BY id")) {
                for (int round = 0; round < 6; round++) { // server-side prepare after 5
                    ps.setLong(1, 20);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            rs.getLong(1);
                            rs.getString(2);
                            if (rs.getArray(3) != null) {
                                rs.getArray(3).getArray();
                            }
                            if (rs.getArray(4) != null) {
                                rs.getArray(4).getArray();
                            }
                        }
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM types WHERE i32 = ?")) {
                ps.setNull(1, java.sql.Types.INTEGER);
                drain(ps.executeQuery());
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM types WHERE ints IS NOT DISTINCT FROM ?")) {
                ps.setArray(1, c.createArrayOf("int4", new Integer[] {0, 1, 2}));
                drain(ps.executeQuery());
            }
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.setFetchSize(50);
                drain(s.executeQuery("SELECT id, f64 FROM types ORDER BY id"));
            }
            c.commit();
        }
    }
}
