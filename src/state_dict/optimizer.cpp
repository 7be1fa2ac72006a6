// Optimizer state between torch::optim (SGD, Adam) and torch.optim's
// state_dict layout; see include/modelzoo/state_dict/optimizer.h.
#include "modelzoo/state_dict/optimizer.h"

#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <c10/util/C++17.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "modelzoo/error.h"

namespace modelzoo::state_dict {

namespace {

using io::Value;
namespace optim = torch::optim;

enum class Kind { Sgd, Adam };

Kind kind_of(const optim::Optimizer& o, const char* what) {
  if (dynamic_cast<const optim::SGD*>(&o) != nullptr) return Kind::Sgd;
  if (dynamic_cast<const optim::Adam*>(&o) != nullptr) return Kind::Adam;
  throw Error(std::string(what) + ": expected a torch::optim::SGD or torch::optim::Adam; other optimizers are "
              "not supported");
}

// The key torch::optim uses for a parameter's state (sgd.cpp, adam.cpp).
std::string state_key(const at::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

std::string shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

[[noreturn]] void fail(const std::string& where, const std::string& message) {
  throw LoadError("optimizer state_dict: " + where + ": " + message);
}

const Value& require(const Value& dict, const char* key, const std::string& where) {
  const Value* v = dict.find(key);
  if (v == nullptr) fail(where, std::string("missing key '") + key + "'");
  return *v;
}

double number(const Value& dict, const char* key, const std::string& where) {
  const Value& v = require(dict, key, where);
  if (!v.is_float() && !v.is_int()) fail(where + "/" + key, std::string("expected a number, got ") + v.kind_name());
  const double d = v.as_float();
  if (!std::isfinite(d)) fail(where + "/" + key, "expected a finite number");
  return d;
}

bool flag(const Value& dict, const char* key, const std::string& where, bool fallback) {
  const Value* v = dict.find(key);
  if (v == nullptr || v->is_none()) return fallback;
  if (!v->is_bool()) fail(where + "/" + key, std::string("expected a bool, got ") + v->kind_name());
  return v->as_bool();
}

// A state tensor for parameter `p`: same shape, copied to p's dtype and device.
at::Tensor state_tensor(const Value& entry, const char* key, const at::Tensor& p, const std::string& where) {
  const Value& v = require(entry, key, where);
  if (!v.is_tensor()) fail(where + "/" + key, std::string("expected a tensor, got ") + v.kind_name());
  const at::Tensor& t = v.as_tensor();
  if (!t.sizes().equals(p.sizes())) {
    fail(where + "/" + key, "shape " + shape_text(t) + " does not match the parameter's " + shape_text(p));
  }
  return t.to(p.device(), p.scalar_type(), /*non_blocking=*/false, /*copy=*/true).detach();
}

int64_t step_count(const Value& entry, const std::string& where) {
  const Value& v = require(entry, "step", where);
  double step = 0;
  if (v.is_tensor()) {
    const at::Tensor& t = v.as_tensor();
    if (t.numel() != 1) fail(where + "/step", "expected one value, got a tensor of shape " + shape_text(t));
    step = t.to(at::kDouble).item<double>();
  } else if (v.is_int() || v.is_float()) {
    step = v.as_float();
  } else {
    fail(where + "/step", std::string("expected a number or a one-element tensor, got ") + v.kind_name());
  }
  if (!(step >= 0) || step != std::floor(step) || step > 9.0e15) {
    fail(where + "/step", "expected a whole number of steps, got " + std::to_string(step));
  }
  return static_cast<int64_t>(step);
}

Value sgd_group(const optim::SGDOptions& o) {
  Value g = Value::dict();
  g.set("lr", o.lr());
  g.set("momentum", o.momentum());
  g.set("dampening", o.dampening());
  g.set("weight_decay", o.weight_decay());
  g.set("nesterov", o.nesterov());
  g.set("maximize", false);
  g.set("foreach", nullptr);
  g.set("differentiable", false);
  return g;
}

Value adam_group(const optim::AdamOptions& o) {
  Value g = Value::dict();
  g.set("lr", o.lr());
  g.set("betas", Value::tuple({std::get<0>(o.betas()), std::get<1>(o.betas())}));
  g.set("eps", o.eps());
  g.set("weight_decay", o.weight_decay());
  g.set("amsgrad", o.amsgrad());
  g.set("maximize", false);
  g.set("foreach", nullptr);
  g.set("capturable", false);
  g.set("differentiable", false);
  g.set("fused", false);
  return g;
}

}  // namespace

Value optimizer_state_dict(const optim::Optimizer& optimizer) {
  const Kind kind = kind_of(optimizer, "optimizer_state_dict");
  Value state = Value::dict();
  Value groups = Value::list();
  int64_t index = 0;
  for (const auto& group : optimizer.param_groups()) {
    Value g = kind == Kind::Sgd ? sgd_group(static_cast<const optim::SGDOptions&>(group.options()))
                                : adam_group(static_cast<const optim::AdamOptions&>(group.options()));
    Value params = Value::list();
    for (const auto& p : group.params()) {
      params.append(index);
      auto it = optimizer.state().find(state_key(p));
      if (it != optimizer.state().end()) {
        Value entry = Value::dict();
        if (kind == Kind::Sgd) {
          const auto& s = static_cast<const optim::SGDParamState&>(*it->second);
          entry.set("momentum_buffer", s.momentum_buffer().defined() ? Value(s.momentum_buffer()) : Value(nullptr));
        } else {
          const auto& s = static_cast<const optim::AdamParamState&>(*it->second);
          // torch.optim keeps the step count as a float tensor.
          entry.set("step", at::scalar_tensor(static_cast<double>(s.step()), at::kFloat));
          entry.set("exp_avg", s.exp_avg());
          entry.set("exp_avg_sq", s.exp_avg_sq());
          if (s.max_exp_avg_sq().defined()) entry.set("max_exp_avg_sq", s.max_exp_avg_sq());
        }
        state.set(index, entry);
      }
      ++index;
    }
    g.set("params", params);
    groups.append(g);
  }
  Value out = Value::dict();
  out.set("state", state);
  out.set("param_groups", groups);
  return out;
}

void load_optimizer_state_dict(optim::Optimizer& optimizer, const Value& sd) {
  const Kind kind = kind_of(optimizer, "load_optimizer_state_dict");
  if (!sd.is_dict()) fail("/", std::string("expected a dict {'state', 'param_groups'}, got ") + sd.kind_name());
  const Value& state = require(sd, "state", "/");
  const Value& groups = require(sd, "param_groups", "/");
  if (!state.is_dict()) fail("/state", std::string("expected a dict, got ") + state.kind_name());
  if (!groups.is_list() && !groups.is_tuple()) {
    fail("/param_groups", std::string("expected a list, got ") + groups.kind_name());
  }
  auto& mine = optimizer.param_groups();
  if (groups.items().size() != mine.size()) {
    fail("/param_groups", "the file has " + std::to_string(groups.items().size()) +
                              " parameter groups, the optimizer " + std::to_string(mine.size()));
  }

  // 1. Check everything and build the new options and states.
  std::vector<std::unique_ptr<optim::OptimizerOptions>> options;
  std::vector<std::pair<std::string, std::unique_ptr<optim::OptimizerParamState>>> states;
  std::vector<const at::Tensor*> by_index;  // the file's parameter index -> parameter
  std::vector<std::size_t> group_of;         // the file's parameter index -> group
  for (std::size_t gi = 0; gi < mine.size(); ++gi) {
    const std::string where = "/param_groups/" + std::to_string(gi);
    const Value& g = groups.items()[gi];
    if (!g.is_dict()) fail(where, std::string("expected a dict, got ") + g.kind_name());
    const Value& params = require(g, "params", where);
    if (!params.is_list() && !params.is_tuple()) {
      fail(where + "/params", std::string("expected a list of indices, got ") + params.kind_name());
    }
    if (params.items().size() != mine[gi].params().size()) {
      fail(where + "/params", "the file's group has " + std::to_string(params.items().size()) +
                                  " parameters, the optimizer's " + std::to_string(mine[gi].params().size()));
    }
    for (std::size_t k = 0; k < params.items().size(); ++k) {
      const Value& idx = params.items()[k];
      if (!idx.is_int() || idx.as_int() != static_cast<int64_t>(by_index.size())) {
        fail(where + "/params/" + std::to_string(k),
             "expected parameter index " + std::to_string(by_index.size()) +
                 " (indices number the parameters group by group, in order)");
      }
      by_index.push_back(&mine[gi].params()[k]);
      group_of.push_back(gi);
    }
    if (flag(g, "maximize", where, false)) {
      fail(where + "/maximize", "maximize=True is not implemented by LibTorch 1.13's optimizers");
    }
    if (kind == Kind::Sgd) {
      auto o = std::make_unique<optim::SGDOptions>(number(g, "lr", where));
      o->momentum(number(g, "momentum", where));
      o->dampening(number(g, "dampening", where));
      o->weight_decay(number(g, "weight_decay", where));
      o->nesterov(flag(g, "nesterov", where, false));
      if (o->nesterov() && (o->momentum() <= 0 || o->dampening() != 0)) {
        fail(where + "/nesterov", "Nesterov momentum requires a momentum and zero dampening");
      }
      options.push_back(std::move(o));
    } else {
      auto o = std::make_unique<optim::AdamOptions>(number(g, "lr", where));
      const Value& betas = require(g, "betas", where);
      if (!betas.is_sequence() || betas.items().size() != 2 ||
          !(betas.items()[0].is_float() || betas.items()[0].is_int()) ||
          !(betas.items()[1].is_float() || betas.items()[1].is_int())) {
        fail(where + "/betas", "expected a pair of numbers (beta1, beta2)");
      }
      o->betas(std::make_tuple(betas.items()[0].as_float(), betas.items()[1].as_float()));
      o->eps(number(g, "eps", where));
      o->weight_decay(number(g, "weight_decay", where));
      o->amsgrad(flag(g, "amsgrad", where, false));
      options.push_back(std::move(o));
    }
  }
  for (const auto& [key, entry] : state.entries()) {
    if (!key.is_int() || key.as_int() < 0 || key.as_int() >= static_cast<int64_t>(by_index.size())) {
      fail("/state", "key " + (key.is_int() ? key.int_text() : std::string(key.kind_name())) +
                         " is not a parameter index (0.." + std::to_string(by_index.size()) + ")");
    }
    const auto i = static_cast<std::size_t>(key.as_int());
    const std::string where = "/state/" + std::to_string(i);
    if (!entry.is_dict()) fail(where, std::string("expected a dict, got ") + entry.kind_name());
    const at::Tensor& p = *by_index[i];
    if (kind == Kind::Sgd) {
      const Value* buf = entry.find("momentum_buffer");
      if (buf == nullptr || buf->is_none()) continue;  // no momentum: LibTorch keeps no state either
      auto s = std::make_unique<optim::SGDParamState>();
      s->momentum_buffer(state_tensor(entry, "momentum_buffer", p, where));
      states.emplace_back(state_key(p), std::move(s));
    } else {
      auto s = std::make_unique<optim::AdamParamState>();
      s->step(step_count(entry, where));
      s->exp_avg(state_tensor(entry, "exp_avg", p, where));
      s->exp_avg_sq(state_tensor(entry, "exp_avg_sq", p, where));
      const Value* max = entry.find("max_exp_avg_sq");
      const bool amsgrad = static_cast<const optim::AdamOptions&>(*options[group_of[i]]).amsgrad();
      if (max != nullptr && !max->is_none()) {
        s->max_exp_avg_sq(state_tensor(entry, "max_exp_avg_sq", p, where));
      } else if (amsgrad) {
        fail(where, "missing key 'max_exp_avg_sq' (the group uses amsgrad)");
      }
      states.emplace_back(state_key(p), std::move(s));
    }
  }

  // 2. Commit: nothing above changed the optimizer.
  for (std::size_t gi = 0; gi < mine.size(); ++gi) mine[gi].set_options(std::move(options[gi]));
  for (const auto* p : by_index) optimizer.state().erase(state_key(*p));
  for (auto& [key, s] : states) optimizer.state()[key] = std::move(s);
}

}  // namespace modelzoo::state_dict
