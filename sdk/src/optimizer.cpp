#include "s4t/optimizer.hpp"

namespace s4t {

void add_optimizer_options(Schema& schema, const OptimizerSpec& d) {
  schema.add_string("optimizer", d.name, "test-time optimizer", {"sgd", "adam"})
      .add_float("lr", d.lr, "test-time learning rate", 0.0)
      .add_float("momentum", d.momentum, "SGD momentum", 0.0, 1.0)
      .add_bool("nesterov", d.nesterov, "SGD Nesterov momentum")
      .add_float("weight_decay", d.weight_decay, "L2 weight decay", 0.0)
      .add_float("beta1", d.beta1, "Adam beta1", 0.0, 1.0)
      .add_float("beta2", d.beta2, "Adam beta2", 0.0, 1.0);
}

OptimizerSpec optimizer_from(const Options& o) {
  OptimizerSpec s;
  s.name = o.get_string("optimizer");
  s.lr = o.get_float("lr");
  s.momentum = o.get_float("momentum");
  s.nesterov = o.get_bool("nesterov");
  s.weight_decay = o.get_float("weight_decay");
  s.beta1 = o.get_float("beta1");
  s.beta2 = o.get_float("beta2");
  return s;
}

}  // namespace s4t
