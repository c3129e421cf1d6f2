// Model graphs: parameter counts of the paper-size defaults, shapes, length rules, buffer plans.
#include "core/planner.h"
#include "model/plan_check.h"
#include "sr/error.h"
#include "sr/model.h"
#include "test_util.h"

using namespace sr;

TEST_CASE("default parameter counts match the papers", "[model]") {
  // Spec 1.4: TFiLM with Keras' single LSTM bias, AFiLM without the positional buffers.
  CHECK(build_graph(default_config(Arch::tfilm), 1, 8192).parameter_count() == 68221186);
  CHECK(build_graph(default_config(Arch::afilm), 1, 8192).parameter_count() == 134723842);
  CHECK(build_graph(default_config(Arch::audiounet), 1, 8192).parameter_count() == 56411394);
}

TEST_CASE("default graph shapes follow spec 1.3", "[model]") {
  Graph g = build_graph(default_config(Arch::tfilm), 2, 8192);
  auto shape_of = [&](const std::string& name) {
    for (const Value& v : g.values())
      if (v.name == name) return v.shape;
    FAIL("no value " << name);
    return Shape{};
  };
  CHECK(shape_of("down.0.film.modulate") == Shape{2, 4096, 128});
  CHECK(shape_of("down.3.film.modulate") == Shape{2, 512, 512});
  CHECK(shape_of("bottleneck.film.modulate") == Shape{2, 256, 512});
  CHECK(shape_of("up.3.conv") == Shape{2, 256, 1024});
  CHECK(shape_of("up.3.concat") == Shape{2, 512, 1024});
  CHECK(shape_of("up.0.concat") == Shape{2, 4096, 256});
  CHECK(shape_of("final.conv") == Shape{2, 4096, 2});
  CHECK(g.values()[g.output()].shape == Shape{2, 8192, 1});
  // TF block policy: every up block uses the bottleneck's 8 -> U0 has 4096 / 8 = 512 blocks.
  CHECK(shape_of("up.0.film.pool") == Shape{2, 512, 128});
  CHECK(shape_of("down.0.film.pool") == Shape{2, 32, 128});
}

TEST_CASE("the PyTorch block policy gives 4 blocks per site at 1024", "[model]") {
  ModelConfig c = default_config(Arch::afilm);
  c.patch_length = 1024;
  Graph g = build_graph(c, 1, 1024);
  int pools = 0;
  for (const Node& n : g.nodes())
    if (n.op == Op::block_max_pool) {
      CHECK(g.values()[n.output].shape.l == 4);
      ++pools;
    }
  CHECK(pools == 9);
}

TEST_CASE("input lengths the network cannot take are refused", "[model]") {
  ModelConfig c = default_config(Arch::tfilm);
  CHECK_THROWS_AS(check_input_length(c, 8192 + 16), Error);
  CHECK_THROWS_AS(check_input_length(c, 0), Error);
  CHECK_NOTHROW(check_input_length(c, 8192 * 3));
  CHECK_THROWS_AS(build_graph(c, 1, 100), Error);
}

TEST_CASE("metadata round trip keeps every hyper-parameter", "[model]") {
  ModelConfig c = default_config(Arch::afilm);
  c.filters = {16, 16, 32, 32};
  c.ff_dim = 64;
  c.patch_length = 1024;
  c.ratio = 4;
  ModelConfig d = config_from_metadata(config_to_metadata(c));
  CHECK(d.filters == c.filters);
  CHECK(d.ff_dim == 64);
  CHECK(d.patch_length == 1024);
  CHECK(d.ratio == 4);
  CHECK(d.block_policy == BlockPolicy::pt);
  CHECK(d.subpixel_order == SubpixelOrder::pt);
  auto m = config_to_metadata(c);
  m["format"] = "something-else";
  CHECK_THROWS_WITH(config_from_metadata(m), Catch::Contains("not an audio-sr weights file"));
  m = config_to_metadata(c);
  m["filters"] = "[16,16]";
  CHECK_THROWS_WITH(config_from_metadata(m), Catch::Contains("filters"));
}

TEST_CASE("buffer plan never overlaps live values", "[model][planner]") {
  for (Arch arch : {Arch::audiounet, Arch::tfilm, Arch::afilm}) {
    ModelConfig c = default_config(arch);
    Graph g = build_graph(c, 2, 2048);
    BufferPlan plan = plan_buffers(g);
    sr::test::check_plan(g, plan);
    size_t total = 0;
    for (const Value& v : g.values()) total += v.shape.numel();
    // Reuse must actually happen: the arena is well below the sum of all values.
    CHECK(plan.arena_floats < total / 2);
  }
}
