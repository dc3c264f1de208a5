// The `api` function: the dashboard, web app and JSON API (read side), behind a Lambda
// Function URL or an API Gateway HTTP API, over the inventory table, for users of the Cognito
// user pool.
//
// Two ways in:
// - A browser signs in with the pool's hosted UI (OpenID Connect, authorization code flow
//   with PKCE: GET /api/v1/oidc/login, /api/v1/oidc/callback) and then holds a session
//   cookie. The function keeps no state between invocations, so the session (user, role,
//   stores, CSRF token, expiry) and the sign-in attempt (state, nonce, code verifier) live in
//   cookies sealed with the session secret (core/auth/sealed_token.h): the browser can
//   neither read nor change them. A session ends at its expiry or at logout (the cookie is
//   cleared); changing the secret ends every session at once.
// - A script sends the pool's ID token as `Authorization: Bearer` (it wins over a cookie).
//
// Routes (docs/API.md, "The api Lambda function"): GET /healthz, the web app (GET `/` and
// `/assets/...`) and the sign-in routes are open; GET /api/v1/me, /api/v1/stores and
// /api/v1/inventory (the embedded server's parameters, paging and JSON, byte for byte),
// POST /api/v1/logout and, with the alert topics configured, the subscriptions (SNS
// subscriptions, store-scoped by a filter policy) need a user. /api/v1/me lists in
// `features` the dashboard pages this function serves, so the web app shows only those. The JSON
// routes answer from a snapshot of the table: a Query of one store when the request names one, else
// a Scan of the table, reused for `table_cache`; the snapshot is loaded into the reference
// in-memory inventory store, so filters, sorting, cursors and the low-stock rule are the
// embedded mode's own code. The original table keeps no times, so `updated_at` and a store's
// `last_updated` are the time the table was read, and `last_upload` is null.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/auth/oidc.h"
#include "core/auth/sealed_token.h"
#include "core/model/types.h"
#include "core/ports/clock.h"
#include "core/ports/credential_store.h"
#include "core/ports/identity_provider.h"
#include "core/ports/inventory_store.h"
#include "nlohmann/json.hpp"
#include "server/http_message.h"

namespace stockwatch::lambda {

// Where the api function reads the inventory table.
class InventorySource {
 public:
  virtual ~InventorySource() = default;
  // Every item of `store` (all pages of a Query), or of the whole table when nullopt (all
  // pages of a Scan). Items that are not inventory (no numeric Count: the load-state items)
  // are left out.
  virtual absl::StatusOr<std::vector<core::InventoryItem>> Items(
      const std::optional<std::string>& store) = 0;
};

// Verifies a bearer token and returns its claims: kUnauthenticated if it is refused,
// kUnavailable if it cannot be checked now (the key set cannot be fetched).
using TokenVerifier = std::function<absl::StatusOr<nlohmann::json>(std::string_view token)>;

// One subscription to an alert topic (SNS in AWS mode).
struct AlertSubscription {
  std::string id;        // the subscription ARN; "PendingConfirmation" until confirmed
  std::string topic;     // the topic's name: NoStock, LowStock or BackInStock
  std::string protocol;  // email, sms or https
  std::string endpoint;  // the address, number or URL
  // The filter policy's `store` list (check-stock publishes `store` as a message attribute):
  // the subscription gets only those stores' alerts. Empty: every store's, unless
  // `other_filter` is set.
  std::vector<std::string> stores;
  // A filter policy the dashboard did not write (anything but {"store":[names]} on the
  // message attributes), as SNS holds it; `stores` is then empty and means nothing. Shown
  // as it is to admins and viewers, never to a manager, whose stores it cannot be checked
  // against.
  std::string other_filter;
  std::string other_filter_scope;  // FilterPolicyScope with other_filter, if SNS gave one
};

// Where the api function manages who gets alerts: the SNS topics check-stock publishes to.
class AlertSubscriptions {
 public:
  virtual ~AlertSubscriptions() = default;
  // The topics' names, in a fixed order.
  virtual std::vector<std::string> Topics() = 0;
  // Every subscription of every topic.
  virtual absl::StatusOr<std::vector<AlertSubscription>> List() = 0;
  // Subscribes (id ignored); returns the new subscription's id. kNotFound for an unknown
  // topic.
  virtual absl::StatusOr<std::string> Subscribe(const AlertSubscription& subscription) = 0;
  // Removes the subscription `id` (an ARN).
  virtual absl::Status Unsubscribe(const std::string& id) = 0;
};

// Where the api function keeps the LowStock thresholds set in the dashboard (check-stock
// reads the same ones).
class ThresholdStore {
 public:
  virtual ~ThresholdStore() = default;
  // Every threshold set, in a stable order.
  virtual absl::StatusOr<std::vector<core::Threshold>> List() = 0;
  // Sets the threshold of `scope` (its store and item) to `value`, or removes it (nullopt).
  virtual absl::Status Set(const core::Threshold& scope, std::optional<int64_t> value) = 0;
};

// A ThresholdStore read at most every `max_age`: the thresholds check-stock applies, and
// those the api function's snapshots use.
class ThresholdCache {
 public:
  ThresholdCache(ThresholdStore& store, std::chrono::steady_clock::duration max_age)
      : store_(store), max_age_(max_age) {}
  // The thresholds in force at `now`, read again when the kept ones are older than max_age.
  // A failed read sets `read_error` and keeps the last ones read in force; before any read
  // succeeded that is none (the caller then has LOW_STOCK_THRESHOLD alone), and the next
  // call reads again.
  const std::vector<core::Threshold>& Get(std::chrono::steady_clock::time_point now,
                                          absl::Status& read_error);
  // The next Get() reads (after a write).
  void Invalidate() { read_at_.reset(); }

 private:
  ThresholdStore& store_;
  std::chrono::steady_clock::duration max_age_;
  std::vector<core::Threshold> thresholds_;
  std::optional<std::chrono::steady_clock::time_point> read_at_;
};

// Sign-in in the browser. Without it (DashboardApiOptions::browser unset) only bearer tokens
// are accepted and /api/v1/oidc/config says sign-in is not enabled.
struct BrowserSignInOptions {
  // Seals the session and sign-in cookies: at least core::kMinSealSecretBytes bytes.
  // Required.
  std::string session_secret;
  // How long a session lasts. Default 8 h.
  std::chrono::seconds session_ttl{8 * 3600};
  // Sealed into every session; a session of another generation is refused. Raising it
  // (SESSION_GENERATION) ends every session at once: the configuration change also
  // replaces every warm instance, which would otherwise keep the secret it read at start.
  int64_t session_generation = 1;
  // The pool's hosted UI (authorization endpoint) and token exchange; must outlive the api.
  // Required.
  core::IdentityProvider* provider = nullptr;
  // The app client id, sent in the authorization request. Required.
  std::string client_id;
  // Scopes asked for ("openid" is always added). Default "openid email".
  std::string scopes = "openid email";
  // Our callback as registered with the app client; empty: the request's own origin
  // (https://<Host>) + "/api/v1/oidc/callback". Default empty.
  std::string redirect_url;
};

struct DashboardApiOptions {
  // The LowStock threshold in force for every item (check-stock's LOW_STOCK_THRESHOLD), for
  // `status=low` and the stores' `low` counts. Default none: no item is low.
  std::optional<int64_t> low_stock_threshold;
  // How long a Scan of the whole table is reused by later requests of a warm function.
  // Default 5 s; 0 reads the table for every request.
  std::chrono::milliseconds table_cache{5000};
  // How the ID token's groups become a role and store scope (as the embedded OIDC sign-in).
  core::OidcRoleMapping roles;
  // Sign-in in the browser; unset: bearer tokens only.
  std::optional<BrowserSignInOptions> browser;
  // The thresholds set in the dashboard (GET and PUT /api/v1/thresholds; they override
  // low_stock_threshold as the embedded mode's do); must outlive the api. Read for the
  // inventory at most once per table_cache, and again after a PUT. Null: not served, and
  // low_stock_threshold alone applies.
  ThresholdStore* thresholds = nullptr;
  // The alert topics' subscriptions (GET /api/v1/topics, GET and POST /api/v1/subscriptions,
  // DELETE /api/v1/subscriptions/{id}); must outlive the api. Null: not served.
  AlertSubscriptions* subscriptions = nullptr;
};

class DashboardApi {
 public:
  // `source` and `clock` must outlive the api.
  DashboardApi(InventorySource& source, TokenVerifier verify, core::Clock& clock,
               DashboardApiOptions options);
  ~DashboardApi();

  // Answers one request. `event` is a Function URL or HTTP API event (payload format 2.0:
  // requestContext.http.method, rawPath, rawQueryString, headers, cookies, body; format 1.0's
  // httpMethod, path, queryStringParameters and multiValueHeaders are read too). Returns the
  // response as those expect it: {"statusCode","headers","body"}, with "cookies" (2.0) or
  // "multiValueHeaders" (1.0) for Set-Cookie and "isBase64Encoded" for a gzipped file. Every
  // response carries the embedded server's security headers. Never fails: errors are JSON
  // error responses as the embedded server's (docs/API.md, "Errors"), 401 with
  // `WWW-Authenticate: Bearer`; a browser the sign-in fails for is sent to the login page.
  nlohmann::json Handle(const nlohmann::json& event);

  struct Request;  // one request, read from the event (dashboard_api.cc)

 private:
  server::HttpResponse Route(const Request& request);
  // The sign-in routes: /api/v1/oidc/config, /login and /callback.
  server::HttpResponse OidcRoute(const Request& request);
  absl::StatusOr<server::HttpResponse> OidcLogin(const Request& request);
  absl::StatusOr<server::HttpResponse> OidcCallback(const Request& request);
  server::HttpResponse Logout(const Request& request);
  // The subscription routes (only with options_.subscriptions).
  server::HttpResponse SubscriptionRoute(const Request& request, const core::Principal& principal);
  // GET and PUT /api/v1/thresholds (only with options_.thresholds).
  server::HttpResponse ThresholdRoute(const Request& request, const core::Principal& principal);
  // The user a bearer token or session cookie names, and the session's CSRF token ("" for
  // a bearer token).
  absl::StatusOr<core::Principal> Authenticate(const Request& request, std::string* csrf_token);
  std::string RedirectUrl(const Request& request) const;

  struct Snapshot;
  // The table (or one store of it) as an in-memory inventory store.
  absl::StatusOr<std::shared_ptr<Snapshot>> Read(const std::optional<std::string>& store);

  InventorySource& source_;
  TokenVerifier verify_;
  core::Clock& clock_;
  DashboardApiOptions options_;
  std::unique_ptr<core::TokenSealer> sealer_;  // set with options_.browser
  std::optional<ThresholdCache> thresholds_;   // over options_.thresholds, if set
  std::shared_ptr<Snapshot> table_;            // the last whole-table snapshot
  std::chrono::steady_clock::time_point table_read_at_;
};

}  // namespace stockwatch::lambda
