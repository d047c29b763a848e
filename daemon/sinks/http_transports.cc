// http_transports.cc — Splunk HTTP Event Collector and Elasticsearch _bulk,
// over HTTP/1.1 with Boost.Beast (TLS through asio::ssl).
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "net_client.h"
#include "tunneldoc/render.h"
#include "tunneldoc/transports.h"

namespace tunneldoc {

namespace http = boost::beast::http;

namespace {

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = ::EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

std::string host_header(const NetTarget& t) {
  if (t.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", t.host, t.port);
  return fmt::format("{}:{}", t.host, t.port);
}

// The body's first line, cut, for error messages.
std::string excerpt(std::string_view body) {
  body = body.substr(0, body.find('\n'));
  std::string out(body.substr(0, 200));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out;
}

bool retryable_status(unsigned status) {
  return status == 429 || status >= 500;
}

class HecTransport final : public NetTransport {
 public:
  explicit HecTransport(HecOptions options) : NetTransport(options.target), options_(std::move(options)) {}

  DeliveryResult deliver(std::span<const Record> records) override {
    DeliveryResult result;
    NetClient::Request req{http::verb::post, "/services/collector/event", 11};
    req.set(http::field::host, host_header(options_.target));
    req.set(http::field::user_agent, "tunneldoc/" TUNNELDOC_VERSION);
    req.set(http::field::authorization, "Splunk " + options_.token);
    req.set(http::field::content_type, "application/json");
    std::string& body = req.body();
    for (const Record& r : records) {
      // The envelope is ours; the event is the record's own JSON (json, ecs) or a string (cef).
      body += fmt::format("{{\"time\":{}.{:03},\"host\":", r.time_ms / 1000, r.time_ms % 1000);
      append_json_string(body, r.host.empty() ? hostname_ : r.host);
      body += ",\"source\":";
      append_json_string(body, options_.source);
      body += ",\"sourcetype\":";
      append_json_string(body, options_.sourcetype);
      if (!options_.index.empty()) {
        body += ",\"index\":";
        append_json_string(body, options_.index);
      }
      body += ",\"event\":";
      if (options_.json_payload) {
        body += r.payload;
      } else {
        append_json_string(body, r.payload);
      }
      body += "}\n";
    }
    NetClient::Response res;
    if (!client_.exchange(req, res, result.error)) return result;
    const unsigned status = res.result_int();
    result.bytes = body.size();
    if (status == 200) {
      result.sent = true;
      return result;
    }
    // {"text":"Invalid data format","code":6,"invalid-event-number":N}: event
    // N is bad for good (dead-lettered); the others go again (those before N
    // may have been indexed: at least once, never lost).
    const auto answer = nlohmann::json::parse(res.body(), nullptr, false);
    const std::string text = answer.is_object() && answer.contains("text") && answer["text"].is_string()
                                 ? answer["text"].get<std::string>()
                                 : excerpt(res.body());
    if (status == 400 && answer.is_object() && answer.contains("invalid-event-number") &&
        answer["invalid-event-number"].is_number_integer()) {
      const auto bad = answer["invalid-event-number"].get<long long>();
      if (bad >= 0 && static_cast<std::size_t>(bad) < records.size()) {
        result.sent = true;
        result.failed.push_back({static_cast<std::size_t>(bad), true, fmt::format("HEC: {} (HTTP 400)", text)});
        for (std::size_t i = 0; i < records.size(); ++i)
          if (i != static_cast<std::size_t>(bad))
            result.failed.push_back({i, false, "sent again after an invalid event in its batch"});
        return result;
      }
    }
    // 401/403 (token), 400 (index, channel), 429, 5xx (busy): the whole batch again, later.
    result.error = fmt::format("HEC {} answered {} {}: {}", client_.where(), status, std::string(res.reason()), text);
    return result;
  }

 private:
  HecOptions options_;
  std::string hostname_ = syslog_hostname();
};

class EsTransport final : public NetTransport {
 public:
  explicit EsTransport(EsOptions options) : NetTransport(options.target), options_(std::move(options)) {}

  DeliveryResult deliver(std::span<const Record> records) override {
    DeliveryResult result;
    NetClient::Request req{http::verb::post, "/" + options_.index + "/_bulk", 11};
    req.set(http::field::host, host_header(options_.target));
    req.set(http::field::user_agent, "tunneldoc/" TUNNELDOC_VERSION);
    req.set(http::field::content_type, "application/x-ndjson");
    req.set(http::field::accept, "application/json");
    if (!options_.api_key.empty()) {
      req.set(http::field::authorization, "ApiKey " + options_.api_key);
    } else if (!options_.username.empty()) {
      req.set(http::field::authorization, "Basic " + base64(options_.username + ":" + options_.password));
    }
    std::string& body = req.body();
    for (const Record& r : records) {
      // create with our id: a record sent again after a lost answer is a 409, not a duplicate.
      body += "{\"create\":{\"_id\":";
      append_json_string(body, r.id);
      body += "}}\n";
      body += r.payload;
      body += '\n';
    }
    NetClient::Response res;
    if (!client_.exchange(req, res, result.error)) return result;
    const unsigned status = res.result_int();
    result.bytes = body.size();
    const auto answer = nlohmann::json::parse(res.body(), nullptr, false);
    if (status != 200) {
      std::string why = excerpt(res.body());
      if (answer.is_object() && answer.contains("error")) {
        const auto& e = answer["error"];
        why = e.is_object() ? e.value("type", std::string()) + ": " + e.value("reason", std::string()) : e.dump();
      }
      result.error =
          fmt::format("Elasticsearch {} answered {} {}: {}", client_.where(), status, std::string(res.reason()), why);
      return result;
    }
    if (!answer.is_object() || !answer.contains("items") || !answer["items"].is_array() ||
        answer["items"].size() != records.size()) {
      result.error = fmt::format("Elasticsearch {}: a _bulk answer without one item per action: {}", client_.where(),
                                 excerpt(res.body()));
      return result;
    }
    result.sent = true;
    if (!answer.value("errors", false)) return result;
    const auto& items = answer["items"];
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto& item = items[i];
      if (!item.is_object() || item.empty()) continue;
      const auto& action = item.begin().value();
      const unsigned s = action.is_object() ? action.value("status", 0u) : 0u;
      if (s >= 200 && s < 300) continue;
      if (s == 409) continue;  // created by an earlier attempt whose answer was lost
      std::string reason = fmt::format("status {}", s);
      if (action.is_object() && action.contains("error")) {
        const auto& e = action["error"];
        reason += e.is_object() ? ": " + e.value("type", std::string()) + ": " + e.value("reason", std::string())
                                : ": " + e.dump();
      }
      // 429 and 5xx are worth another try, and so is a missing index (404);
      // the rest (400: mapping, parsing) would fail the same way forever.
      result.failed.push_back({i, !(retryable_status(s) || s == 404 || s == 0), reason});
    }
    return result;
  }

 private:
  EsOptions options_;
};

}  // namespace

std::unique_ptr<SinkTransport> make_hec_transport(const HecOptions& options, std::string& error) {
  return NetTransport::make<HecTransport>(options, error);
}

std::unique_ptr<SinkTransport> make_es_transport(const EsOptions& options, std::string& error) {
  return NetTransport::make<EsTransport>(options, error);
}

}  // namespace tunneldoc
