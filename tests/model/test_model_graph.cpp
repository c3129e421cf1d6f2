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

// The robust-SR recipe's network (tan90xx/audio-super-resolution-tf README: 10,281,363
// parameters) as AudioUNet hyper-parameters: 8 + 8 blocks, kernel 11, PReLU with one slope per
// block (17 of them), final kernel 17, dropout 0.2 at every third level of the down and up paths.
ModelConfig robust_sr_config() {
  ModelConfig c = default_config(Arch::audiounet);
  c.layers = 8;
  c.filters = {64, 64, 64, 128, 128, 128, 256, 256};
  c.kernels = std::vector<int>(8, 11);
  c.bottleneck_filters = 256;
  c.bottleneck_kernel = 11;
  c.final_kernel = 17;
  c.block_activation = ModelConfig::BlockActivation::prelu;
  c.block_dropout = 0.2f;
  c.dropout_every = 3;
  c.patch_length = 2048;
  return c;
}

TEST_CASE("the robust-SR recipe's AudioUNet has its 10,281,363 parameters", "[model]") {
  const ModelConfig c = robust_sr_config();
  CHECK(build_graph(c, 1, 2048).parameter_count() == 10281363);
  // Round trip through the metadata, and dropout only at levels 2 and 5, down and up.
  const ModelConfig back = config_from_metadata(config_to_metadata(c));
  CHECK(back.block_activation == ModelConfig::BlockActivation::prelu);
  CHECK(back.block_dropout == 0.2f);
  CHECK(back.dropout_every == 3);
  std::vector<std::string> drops;
  int prelus = 0;
  const Graph g = build_graph(back, 1, 2048, true);
  for (const Node& n : g.nodes()) {
    if (n.op == Op::dropout) {
      drops.push_back(g.values()[n.output].name);
      CHECK(n.params.rate == 0.2f);
    }
    prelus += n.op == Op::prelu;
  }
  CHECK(drops == std::vector<std::string>{"down.2.drop", "down.5.drop", "up.5.drop", "up.2.drop"});
  CHECK(prelus == 17);
  // The originals' keys are absent from files that keep the originals' blocks.
  const auto m = config_to_metadata(default_config(Arch::tfilm));
  CHECK(m.count("block_activation") == 0);
  CHECK(m.count("dropout_every") == 0);
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
