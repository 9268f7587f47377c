#include "mysql_client.h"

#include <mysql.h>

#include <mutex>

namespace corral::testing {

namespace {

void init_library() {
  // mysql_library_init is not thread-safe; mysql_init would call it implicitly on first use.
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

MysqlException exception_from(MYSQL* mysql, std::string_view what) {
  return MysqlException(mysql_errno(mysql), mysql_sqlstate(mysql),
                        std::string(what) + ": " + mysql_error(mysql) + " (" + std::to_string(mysql_errno(mysql)) + ")");
}

}  // namespace

const std::string& QueryResult::at(std::size_t row, std::size_t column) const {
  if (row >= rows.size() || column >= rows[row].size()) {
    throw HarnessError("QueryResult::at(" + std::to_string(row) + ", " + std::to_string(column) + ") out of range");
  }
  const auto& cell = rows[row][column];
  if (!cell) throw HarnessError("QueryResult::at(" + std::to_string(row) + ", " + std::to_string(column) + ") is NULL");
  return *cell;
}

MysqlClient MysqlClient::connect(const MysqlLogin& login) {
  init_library();
  MysqlClient client;
  client.mysql_ = mysql_init(nullptr);
  if (client.mysql_ == nullptr) throw MysqlException(2008, "HY000", "mysql_init: out of memory");
  MYSQL* m = client.mysql_;
  const unsigned timeout = static_cast<unsigned>(login.timeout.count());
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  const unsigned protocol = login.unix_socket.empty() ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
  mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
  if (!login.default_auth.empty()) mysql_options(m, MYSQL_DEFAULT_AUTH, login.default_auth.c_str());
  if (login.ssl) {
    const my_bool enforce = 1;
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &enforce);
  }
  if (login.compress) mysql_options(m, MYSQL_OPT_COMPRESS, nullptr);
  if (!login.ssl_ca.empty()) mysql_options(m, MYSQL_OPT_SSL_CA, login.ssl_ca.c_str());
  if (!login.ssl_cert.empty()) mysql_options(m, MYSQL_OPT_SSL_CERT, login.ssl_cert.c_str());
  if (!login.ssl_key.empty()) mysql_options(m, MYSQL_OPT_SSL_KEY, login.ssl_key.c_str());
  const my_bool verify = login.ssl_verify_server_cert ? 1 : 0;
  mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  const char* host = login.unix_socket.empty() ? login.host.c_str() : "localhost";
  const char* socket = login.unix_socket.empty() ? nullptr : login.unix_socket.c_str();
  const char* db = login.database.empty() ? nullptr : login.database.c_str();
  if (mysql_real_connect(m, host, login.user.c_str(), login.password.c_str(), db, login.port, socket,
                         CLIENT_MULTI_STATEMENTS) == nullptr) {
    const std::string where = login.unix_socket.empty() ? login.host + ":" + std::to_string(login.port) : login.unix_socket;
    throw exception_from(m, "cannot log in to " + where + " as '" + login.user + "'");
  }
  return client;
}

MysqlClient::~MysqlClient() { close(); }

MysqlClient::MysqlClient(MysqlClient&& other) noexcept : mysql_(other.mysql_) { other.mysql_ = nullptr; }

MysqlClient& MysqlClient::operator=(MysqlClient&& other) noexcept {
  if (this != &other) {
    close();
    mysql_ = other.mysql_;
    other.mysql_ = nullptr;
  }
  return *this;
}

void MysqlClient::close() {
  if (mysql_ != nullptr) mysql_close(mysql_);
  mysql_ = nullptr;
}

void MysqlClient::fail(std::string_view what) { throw exception_from(mysql_, what); }

std::string MysqlClient::ssl_cipher() {
  if (mysql_ == nullptr) throw HarnessError("MysqlClient: not connected");
  const char* cipher = mysql_get_ssl_cipher(mysql_);
  return cipher != nullptr ? cipher : "";
}

QueryResult MysqlClient::query(std::string_view sql) {
  if (mysql_ == nullptr) throw HarnessError("MysqlClient: not connected");
  if (mysql_real_query(mysql_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    fail("query failed: " + std::string(sql.substr(0, 200)));
  }
  QueryResult result;
  bool first = true;
  while (true) {
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res == nullptr && mysql_field_count(mysql_) != 0) fail("reading result of: " + std::string(sql.substr(0, 200)));
    if (first) {
      result.affected_rows = res == nullptr ? mysql_affected_rows(mysql_) : mysql_num_rows(res);
      result.insert_id = mysql_insert_id(mysql_);
      result.warnings = mysql_warning_count(mysql_);
      if (res != nullptr) {
        const unsigned n = mysql_num_fields(res);
        MYSQL_FIELD* fields = mysql_fetch_fields(res);
        for (unsigned i = 0; i < n; ++i) result.columns.emplace_back(fields[i].name);
        while (MYSQL_ROW row = mysql_fetch_row(res)) {
          const unsigned long* lengths = mysql_fetch_lengths(res);
          auto& out = result.rows.emplace_back();
          for (unsigned i = 0; i < n; ++i) {
            if (row[i] == nullptr) {
              out.emplace_back(std::nullopt);
            } else {
              out.emplace_back(std::string(row[i], lengths[i]));
            }
          }
        }
      }
      first = false;
    }
    if (res != nullptr) mysql_free_result(res);
    const int next = mysql_next_result(mysql_);
    if (next == -1) break;
    if (next > 0) fail("statement failed: " + std::string(sql.substr(0, 200)));
  }
  return result;
}

void MysqlClient::execute(std::string_view sql) { query(sql); }

bool MysqlClient::ping() { return mysql_ != nullptr && mysql_ping(mysql_) == 0; }

}  // namespace corral::testing
