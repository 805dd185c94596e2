//! The graph as templates see it. The graph serializes as it is, except for what it holds as indices (so that no
//! field or model is stored twice): `FieldSets` becomes lists of the model's fields (`model.record_fields`,
//! `model.id`, ...) and `Graph::realtime_models` a list of models. The lists share the values of the fields and
//! models they name, so the conversion costs about what the graph alone does.

use minijinja::value::Serde;
use minijinja::Value;

use crate::model::{FieldSets, Graph};

/// The graph's template value: converted once, shared by every render.
pub fn graph_value(graph: &Graph) -> Value {
    let base = Value::from(Serde(graph));
    let base_models = base.get_attr("models").expect("the graph has models");
    let models: Vec<Value> = graph
        .models
        .iter()
        .enumerate()
        .map(|(index, model)| {
            let value = base_models
                .get_item_by_index(index)
                .expect("one value per model");
            model_value(&value, &model.sets)
        })
        .collect();
    let realtime: Vec<Value> = graph
        .realtime_models
        .iter()
        .map(|&i| models[i].clone())
        .collect();
    with_attrs(
        &base,
        vec![
            ("models", Value::from(models)),
            ("realtime_models", Value::from(realtime)),
        ],
    )
}

fn model_value(model: &Value, sets: &FieldSets) -> Value {
    let fields = model.get_attr("fields").expect("a model has fields");
    let field = |i: usize| fields.get_item_by_index(i).expect("an index into fields");
    let list = |indices: &[usize]| Value::from_iter(indices.iter().map(|&i| field(i)));
    with_attrs(
        model,
        vec![
            ("id", field(sets.id)),
            ("owner", sets.owner.map(field).unwrap_or(Value::from(()))),
            ("record_fields", list(&sets.record)),
            ("create_fields", list(&sets.create)),
            ("update_fields", list(&sets.update)),
            ("patch_fields", list(&sets.patch)),
            ("filter_fields", list(&sets.filter)),
            ("order_fields", list(&sets.order)),
        ],
    )
}

/// The map `value` with `extra` attributes added or replaced.
fn with_attrs(value: &Value, extra: Vec<(&'static str, Value)>) -> Value {
    let keys = value.try_iter().expect("a map");
    let kept: Vec<(Value, Value)> = keys
        .filter(|key| !extra.iter().any(|(name, _)| key.as_str() == Some(name)))
        .map(|key| {
            let item = value.get_item(&key).expect("a key of the map");
            (key, item)
        })
        .collect();
    Value::from_pairs(
        kept.into_iter()
            .chain(extra.into_iter().map(|(k, v)| (Value::from(k), v))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_sets_are_lists_of_the_models_fields() {
        let text = "crate: x\nmodels:\n  A:\n    fields:\n      id: { type: int, id: true }\n      \
                    secret: { type: string, hidden: true }\n      note: string?\n    realtime: false\n  \
                    B:\n    fields:\n      id: { type: uuid, id: true }\n";
        let graph = crate::load("x.yaml", text).unwrap_or_else(|e| panic!("{e}"));
        let value = graph_value(&graph);
        let a = value
            .get_attr("models")
            .unwrap()
            .get_item_by_index(0)
            .unwrap();
        let fields = a.get_attr("fields").unwrap();
        let field = |i: usize| fields.get_item_by_index(i).unwrap();
        let record = a.get_attr("record_fields").unwrap();
        assert_eq!(record.len(), Some(2));
        assert_eq!(record.get_item_by_index(0).unwrap(), field(0));
        assert_eq!(record.get_item_by_index(1).unwrap(), field(2));
        assert_eq!(a.get_attr("id").unwrap(), field(0));
        assert!(a.get_attr("owner").unwrap().is_none());
        assert_eq!(a.get_attr("create_fields").unwrap().len(), Some(3));
        // The model's other attributes are kept.
        assert_eq!(a.get_attr("name").unwrap().as_str(), Some("A"));
        let live = value.get_attr("realtime_models").unwrap();
        assert_eq!(live.len(), Some(1));
        assert_eq!(
            live.get_item_by_index(0)
                .unwrap()
                .get_attr("name")
                .unwrap()
                .as_str(),
            Some("B")
        );
    }
}
