//! The JMESPath functions iomt-fhir adds to the standard ones (`src/lib/Microsoft.Health.Expressions`,
//! `docs/CustomFunctions.md`), with its number rules: two integers give an integer (so
//! `divide(\`40\`, \`50\`)` is 0, as in MedTech, whatever its documentation says), a float on either
//! side gives a float.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, SecondsFormat};
use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime, Variable};
use serde_json::Number;

/// The runtime every MedTech JMESPath expression compiles against.
pub static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    let mut runtime = Runtime::new();
    runtime.register_builtin_functions();
    for (name, op) in [
        ("add", Arithmetic::Add),
        ("subtract", Arithmetic::Subtract),
        ("multiply", Arithmetic::Multiply),
        ("divide", Arithmetic::Divide),
        ("pow", Arithmetic::Pow),
    ] {
        runtime.register_function(
            name,
            Box::new(CustomFunction::new(
                Signature::new(vec![ArgumentType::Number, ArgumentType::Number], None),
                Box::new(move |args: &[Rcvar], ctx: &mut Context<'_>| arithmetic(op, args, ctx)),
            )),
        );
    }
    // The standard `to_number`, minus its trip through serde (see `expression::to_variable`).
    runtime.register_function(
        "to_number",
        Box::new(CustomFunction::new(
            Signature::new(vec![ArgumentType::Any], None),
            Box::new(|args: &[Rcvar], _: &mut Context<'_>| {
                Ok(match args.first().map(|a| &**a) {
                    Some(Variable::Number(n)) => number(n.clone()),
                    Some(Variable::String(s)) => match serde_json::from_str::<Number>(s.trim()) {
                        Ok(n) => number(n),
                        Err(_) => Arc::new(Variable::Null),
                    },
                    _ => Arc::new(Variable::Null),
                })
            }),
        )),
    );
    runtime.register_function(
        "insertString",
        Box::new(CustomFunction::new(
            Signature::new(
                vec![ArgumentType::String, ArgumentType::String, ArgumentType::Number],
                None,
            ),
            Box::new(insert_string),
        )),
    );
    runtime.register_function(
        "appendString",
        Box::new(CustomFunction::new(
            Signature::new(vec![ArgumentType::String, ArgumentType::String], None),
            Box::new(|args: &[Rcvar], ctx: &mut Context<'_>| {
                let (Some(a), Some(b)) = (string_arg(args, 0), string_arg(args, 1)) else {
                    return Err(failure(ctx, "appendString expects two strings"));
                };
                Ok(Arc::new(Variable::String(format!("{a}{b}"))))
            }),
        )),
    );
    for (name, per_second) in [("fromUnixTimestamp", 1), ("fromUnixTimestampMs", 1000)] {
        runtime.register_function(
            name,
            Box::new(CustomFunction::new(
                Signature::new(vec![ArgumentType::Number], None),
                Box::new(move |args: &[Rcvar], ctx: &mut Context<'_>| from_unix(name, per_second, args, ctx)),
            )),
        );
    }
    runtime
});

#[derive(Debug, Clone, Copy)]
enum Arithmetic {
    Add,
    Subtract,
    Multiply,
    Divide,
    Pow,
}

fn failure(ctx: &Context<'_>, message: &str) -> JmespathError {
    JmespathError::from_ctx(ctx, ErrorReason::Parse(message.to_string()))
}

fn number_arg(args: &[Rcvar], i: usize) -> Option<&Number> {
    match args.get(i).map(|a| &**a) {
        Some(Variable::Number(n)) => Some(n),
        _ => None,
    }
}

fn string_arg(args: &[Rcvar], i: usize) -> Option<&str> {
    match args.get(i).map(|a| &**a) {
        Some(Variable::String(s)) => Some(s),
        _ => None,
    }
}

fn number(value: Number) -> Rcvar {
    Arc::new(Variable::Number(value))
}

fn arithmetic(op: Arithmetic, args: &[Rcvar], ctx: &mut Context<'_>) -> Result<Rcvar, JmespathError> {
    let (Some(a), Some(b)) = (number_arg(args, 0), number_arg(args, 1)) else {
        return Err(failure(ctx, "expects two numbers"));
    };
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        let result = match op {
            Arithmetic::Add => x.checked_add(y),
            Arithmetic::Subtract => x.checked_sub(y),
            Arithmetic::Multiply => x.checked_mul(y),
            Arithmetic::Divide if y == 0 => return Err(failure(ctx, "divide: division by zero")),
            Arithmetic::Divide => x.checked_div(y),
            Arithmetic::Pow => u32::try_from(y).ok().and_then(|y| x.checked_pow(y)),
        };
        return result.map(|r| number(Number::from(r))).ok_or_else(|| {
            failure(
                ctx,
                &format!("{op:?}: the integer result overflows or is not an integer"),
            )
        });
    }
    let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
        return Err(failure(ctx, "expects two numbers"));
    };
    let result = match op {
        Arithmetic::Add => x + y,
        Arithmetic::Subtract => x - y,
        Arithmetic::Multiply => x * y,
        Arithmetic::Divide => x / y,
        Arithmetic::Pow => x.powf(y),
    };
    Number::from_f64(result)
        .map(number)
        .ok_or_else(|| failure(ctx, &format!("{op:?}: the result is not a finite number")))
}

fn insert_string(args: &[Rcvar], ctx: &mut Context<'_>) -> Result<Rcvar, JmespathError> {
    let (Some(text), Some(insert), Some(position)) = (string_arg(args, 0), string_arg(args, 1), number_arg(args, 2))
    else {
        return Err(failure(ctx, "insertString expects a string, a string and an integer"));
    };
    let chars: Vec<char> = text.chars().collect();
    let Some(at) = position
        .as_u64()
        .and_then(|p| usize::try_from(p).ok())
        .filter(|p| *p <= chars.len())
    else {
        return Err(failure(ctx, "insertString: the position is outside the string"));
    };
    let mut out: String = chars.iter().take(at).collect();
    out.push_str(insert);
    out.extend(chars.iter().skip(at));
    Ok(Arc::new(Variable::String(out)))
}

/// Seconds or milliseconds since 1970 as an ISO 8601 UTC time (MedTech gives a date token; its text
/// is what the timestamp expression reads).
fn from_unix(name: &str, per_second: i64, args: &[Rcvar], ctx: &mut Context<'_>) -> Result<Rcvar, JmespathError> {
    let Some(count) = number_arg(args, 0).and_then(Number::as_i64) else {
        return Err(failure(ctx, &format!("{name} expects an integer")));
    };
    let time = if per_second == 1 {
        DateTime::from_timestamp(count, 0)
    } else {
        DateTime::from_timestamp_millis(count)
    };
    let Some(time) = time else {
        return Err(failure(ctx, &format!("{name}: {count} is outside the supported range")));
    };
    Ok(Arc::new(Variable::String(
        time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn eval(expression: &str, data: serde_json::Value) -> Result<serde_json::Value, String> {
        let compiled =
            super::super::expression::Expression::compile(expression, super::super::expression::Language::JmesPath)?;
        compiled.select_one(&data).map(|v| v.unwrap_or_default())
    }

    #[test]
    fn arithmetic_keeps_medtechs_integer_rule() {
        assert_eq!(eval("divide(`100`, `25`)", json!({})).unwrap(), json!(4));
        assert_eq!(eval("divide(`40`, `50`)", json!({})).unwrap(), json!(0));
        assert_eq!(eval("divide(`40.0`, `50`)", json!({})).unwrap(), json!(0.8));
        assert_eq!(eval("add(a, `1`)", json!({"a": 41})).unwrap(), json!(42));
        assert_eq!(eval("subtract(`1`, `1.5`)", json!({})).unwrap(), json!(-0.5));
        assert_eq!(eval("pow(`2`, `10`)", json!({})).unwrap(), json!(1024));
        assert_eq!(
            eval("multiply(to_number(h), `0.0254`)", json!({"h": "70"})).unwrap(),
            json!(70.0 * 0.0254)
        );
        let error = eval("divide(`1`, `0`)", json!({})).unwrap_err();
        assert!(error.contains("division by zero"), "{error}");
    }

    #[test]
    fn strings_and_times() {
        assert_eq!(
            eval("insertString('myString', '-', `2`)", json!({})).unwrap(),
            json!("my-String")
        );
        assert!(eval("insertString('myString', '-', `9`)", json!({})).is_err());
        assert_eq!(eval("appendString('a', 'b')", json!({})).unwrap(), json!("ab"));
        assert_eq!(
            eval("fromUnixTimestamp(`1696879103`)", json!({})).unwrap(),
            json!("2023-10-09T19:18:23Z")
        );
        assert_eq!(
            eval("fromUnixTimestampMs(`1696879103250`)", json!({})).unwrap(),
            json!("2023-10-09T19:18:23.250Z")
        );
        let error = eval("fromUnixTimestamp('x')", json!({})).unwrap_err();
        assert!(error.contains("invalid") || error.contains("type"), "{error}");
    }
}
