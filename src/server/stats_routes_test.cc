// GET /api/v1/stats/out-of-stock and the dashboard's additions to GET /api/v1/stores and
// GET /api/v1/inventory[/{store}/{item}], through ApiRouter over the in-memory adapters.
#include <chrono>
#include <string>

#include "core/checker/checker.h"
#include "core/loader/loader.h"
#include "core/model/json.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/api_router_test_support.h"

namespace stockwatch::server {
namespace {

using json = nlohmann::json;

class StatsRoutesTest : public ApiRouterTest {
 protected:
  void UploadAndProcess(const std::string& name, const std::string& csv) {
    HttpResponse put = Call("PUT", "/api/v1/uploads/" + name, csv);
    ASSERT_EQ(put.status, 201) << put.body;
    core::Loader loader(objects_, inventory_, clock_, core::LoaderOptions{});
    ASSERT_TRUE(loader.LoadPending().ok());
    core::Checker checker(inventory_, inventory_, notifier_, core::CheckerOptions{});
    ASSERT_TRUE(checker.CheckPending().ok());
  }

  json GetJson(const std::string& target) {
    HttpResponse response = Call("GET", target);
    EXPECT_EQ(response.status, 200) << target << ": " << response.body;
    return json::parse(response.body, nullptr, false);
  }
};

TEST_F(StatsRoutesTest, StoresListTheirLastUploadEvenWhenItChangedNothing) {
  UploadAndProcess("a.csv", "store,item,count\nBerlin,A,0\nParis,C,4\n");
  UploadAndProcess("b.csv", "store,item,count\nBerlin,A,0\n");  // changes nothing
  json stores = GetJson("/api/v1/stores")["stores"];
  ASSERT_EQ(stores.size(), 2u) << stores;
  EXPECT_EQ(stores[0]["store"], "Berlin");
  ASSERT_TRUE(stores[0]["last_upload"].is_string()) << stores;
  EXPECT_GE(stores[0]["last_upload"].get<std::string>(),
            stores[0]["last_updated"].get<std::string>());
  EXPECT_EQ(inventory_.Stores()->front().last_upload_id, 2);  // b.csv, not a.csv
  EXPECT_EQ(stores[1]["store"], "Paris");
  EXPECT_EQ(stores[1]["last_upload"], stores[1]["last_updated"]);
}

TEST_F(StatsRoutesTest, OutOfStockSeriesFollowsTheChangeStream) {
  const std::string since =
      core::FormatTime(std::chrono::system_clock::now() - std::chrono::hours(3));
  UploadAndProcess("a.csv", "store,item,count\nBerlin,A,0\nBerlin,B,0\nParis,C,0\nParis,D,4\n");
  UploadAndProcess("b.csv", "store,item,count\nBerlin,A,5\n");
  json all = GetJson("/api/v1/stats/out-of-stock?bucket=hour&since=" + since);
  EXPECT_EQ(all["bucket"], "hour");
  ASSERT_GE(all["points"].size(), 4u) << all;
  EXPECT_EQ(all["points"].front()["out_of_stock"], 0) << all;  // before the uploads
  EXPECT_EQ(all["points"].back()["out_of_stock"], 2) << all;   // Berlin B, Paris C
  json paris = GetJson("/api/v1/stats/out-of-stock?bucket=day&store=Paris");
  EXPECT_EQ(paris["store"], "Paris");
  EXPECT_EQ(paris["points"].back()["out_of_stock"], 1) << paris;
  EXPECT_EQ(Call("GET", "/api/v1/stats/out-of-stock?bucket=week").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/stats/out-of-stock?since=1970-01-01T00:00:00Z").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/stats/out-of-stock").status, 405);
}

TEST_F(StatsRoutesTest, InventoryCarriesThresholdsTotalsAndAlerts) {
  ASSERT_EQ(Call("PUT", "/api/v1/thresholds", R"({"store":null,"item":null,"value":3})").status,
            200);
  UploadAndProcess("a.csv",
                   "store,item,count\nBerlin,Echo Dot,0\nBerlin,Echo Show,2\n"
                   "Berlin,Kindle,9\nParis,Echo Dot,1\n");
  json page = GetJson("/api/v1/inventory?sort=count&order=desc&limit=2");
  EXPECT_EQ(page["total"], 4);
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["items"][0]["item"], "Kindle");
  EXPECT_EQ(page["items"][0]["threshold"], 3);
  EXPECT_EQ(page["items"][1]["item"], "Echo Show");
  json next = GetJson("/api/v1/inventory?sort=count&order=desc&limit=2&cursor=" +
                      page["next_cursor"].get<std::string>());
  EXPECT_EQ(next["items"][0]["store"], "Paris");
  json low = GetJson("/api/v1/inventory?status=low&q=ECHO");
  EXPECT_EQ(low["total"], 2) << low;  // Berlin Echo Show (2), Paris Echo Dot (1)
  json out = GetJson("/api/v1/inventory?status=out");
  ASSERT_EQ(out["items"].size(), 1u);
  EXPECT_EQ(out["items"][0]["item"], "Echo Dot");
  EXPECT_EQ(GetJson("/api/v1/inventory?changed_since=2200-01-01T00:00:00Z")["total"], 0);
  EXPECT_EQ(Call("GET", "/api/v1/inventory?sort=price").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/inventory?order=up").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/inventory?status=gone").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/inventory?changed_since=yesterday").status, 400);

  json item = GetJson("/api/v1/inventory/Berlin/Echo%20Dot");
  EXPECT_EQ(item["threshold"], 3);
  ASSERT_EQ(item["alerts"].size(), 1u) << item;
  EXPECT_EQ(item["alerts"][0]["topic"], "NoStock");
  EXPECT_EQ(item["history"].size(), 1u);

  json stores = GetJson("/api/v1/stores");
  ASSERT_EQ(stores["stores"].size(), 2u);
  EXPECT_EQ(stores["stores"][0]["store"], "Berlin");
  EXPECT_EQ(stores["stores"][0]["low"], 1);
  EXPECT_EQ(stores["stores"][0]["out_of_stock"], 1);
  EXPECT_EQ(stores["stores"][1]["low"], 1);
}

}  // namespace
}  // namespace stockwatch::server
