//! The factory contract every component type follows, and the registry of
//! one component kind's types.
//!
//! A kind (receivers, processors, exporters, extensions) is a [`Kind`]: the
//! typed config every type of the kind decodes into, what a started
//! component is handed besides its [`ComponentContext`] and what starting
//! it yields. A type is a [`Factory`] of its kind: its name, aliases and
//! [`Stability`], how its config decodes and validates (every problem with
//! its key path), how it starts from the decoded config; the config
//! serializes back with its secrets redacted by type. A crate lists
//! its types in one [`Registry`]; the collector decodes every configured
//! component once through it, keeps the typed configs (reloads compare
//! them) and starts components from them.
//!
//! ```
//! use profcol_config::{Body, ComponentId, Problem};
//! use profcol_runtime::factory::{Factory, Kind, Registry, Stability};
//! use profcol_runtime::ComponentContext;
//!
//! struct Greeters;
//! impl Kind for Greeters {
//!     const SINGULAR: &'static str = "greeter";
//!     type Config = String;
//!     type Input = ();
//!     type Running = String;
//!     type Error = Vec<Problem>;
//!     fn invalid(problems: Vec<Problem>) -> Self::Error {
//!         problems
//!     }
//! }
//!
//! struct Hello;
//! impl Factory<Greeters> for Hello {
//!     fn name(&self) -> &'static str {
//!         "hello"
//!     }
//!     fn stability(&self) -> Stability {
//!         Stability::Alpha
//!     }
//!     fn decode(&self, _: &ComponentId, body: &Body, path: &str) -> Result<String, Vec<Problem>> {
//!         profcol_config::decode_only(body, path).map_err(|p| vec![p])
//!     }
//!     fn start(&self, _: &ComponentId, who: &String, _: ComponentContext, _: ()) -> Result<String, Vec<Problem>> {
//!         Ok(format!("hello, {who}"))
//!     }
//! }
//!
//! static GREETERS: Registry<Greeters> = Registry::new(&[&Hello]);
//! let id: ComponentId = "hello/a".parse().unwrap();
//! let config = GREETERS.decode(&id, &Body::parse("you").unwrap(), "greeters::hello/a").unwrap();
//! let ctx = ComponentContext::standalone("hello/a");
//! assert_eq!(GREETERS.start(&id, &config, ctx, ()).unwrap(), "hello, you");
//! assert!(GREETERS.decode(&"bye".parse().unwrap(), &Body::empty(), "greeters::bye").is_err());
//! ```

use crate::ComponentContext;
use profcol_config::{Body, ComponentId, Problem};

/// How mature a component type is, graded as the OpenTelemetry Collector
/// grades its components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stability {
    Development,
    Alpha,
    Beta,
}

impl Stability {
    /// `development`, `alpha` or `beta`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Alpha => "alpha",
            Self::Beta => "beta",
        }
    }
}

/// One kind of component: what its types share.
pub trait Kind: 'static {
    /// `receiver`, `processor`, … — for messages.
    const SINGULAR: &'static str;
    /// A decoded, validated config of any type of the kind; equal configs
    /// configure the same component (what a reload compares). It
    /// serializes to a body its factory decodes to an equal config, with
    /// every credential replaced by `<secret>` (what `print-config` and the
    /// admin pages show).
    type Config: PartialEq + Clone + serde::Serialize;
    /// What a component is handed when it starts besides its context (the
    /// hop it hands batches to, say).
    type Input;
    /// A started component.
    type Running;
    type Error;
    /// The error for a body that does not decode (a caller that starts from
    /// a body, or a config handed to a factory of another type).
    fn invalid(problems: Vec<Problem>) -> Self::Error;
}

/// One component type of kind `K`.
pub trait Factory<K: Kind>: Sync {
    /// The canonical type name (`otlp_grpc`).
    fn name(&self) -> &'static str;
    /// Other names accepted for it (the OpenTelemetry Collector's `otlp`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    fn stability(&self) -> Stability;
    /// Decodes and validates the body of component `id`; every problem is
    /// reported at once under `path`.
    fn decode(&self, id: &ComponentId, body: &Body, path: &str) -> Result<K::Config, Vec<Problem>>;
    /// Starts component `id` from a config this factory decoded.
    fn start(
        &self,
        id: &ComponentId,
        config: &K::Config,
        ctx: ComponentContext,
        input: K::Input,
    ) -> Result<K::Running, K::Error>;
}

/// Every type of kind `K`, in the order `profcol components` lists them.
pub struct Registry<K: Kind> {
    factories: &'static [&'static dyn Factory<K>],
}

impl<K: Kind> Registry<K> {
    pub const fn new(factories: &'static [&'static dyn Factory<K>]) -> Self {
        Self { factories }
    }

    pub fn factories(&self) -> impl Iterator<Item = &'static dyn Factory<K>> {
        self.factories.iter().copied()
    }

    /// The type named `name` or one of its aliases.
    pub fn lookup(&self, name: &str) -> Option<&'static dyn Factory<K>> {
        self.factories()
            .find(|f| f.name() == name || f.aliases().contains(&name))
    }

    /// Every accepted type name with its stability, each alias after its
    /// type.
    pub fn names(&self) -> Vec<(&'static str, Stability)> {
        self.factories()
            .flat_map(|f| {
                std::iter::once(f.name())
                    .chain(f.aliases().iter().copied())
                    .map(move |name| (name, f.stability()))
            })
            .collect()
    }

    /// Decodes the body of component `id` with the factory of its type; an
    /// unknown type is a problem naming the known ones.
    pub fn decode(
        &self,
        id: &ComponentId,
        body: &Body,
        path: &str,
    ) -> Result<K::Config, Vec<Problem>> {
        match self.lookup(id.kind()) {
            Some(factory) => factory.decode(id, body, path),
            None => Err(vec![self.unknown_type(id, path)]),
        }
    }

    /// Starts component `id` from its decoded config.
    pub fn start(
        &self,
        id: &ComponentId,
        config: &K::Config,
        ctx: ComponentContext,
        input: K::Input,
    ) -> Result<K::Running, K::Error> {
        match self.lookup(id.kind()) {
            Some(factory) => factory.start(id, config, ctx, input),
            None => Err(K::invalid(vec![self.unknown_type(id, "")])),
        }
    }

    /// Decodes `body` under `path`, then starts: for tests and tools that
    /// hold a component's YAML body rather than a decoded config.
    pub fn start_body(
        &self,
        id: &ComponentId,
        body: &Body,
        path: &str,
        ctx: ComponentContext,
        input: K::Input,
    ) -> Result<K::Running, K::Error> {
        let config = self.decode(id, body, path).map_err(K::invalid)?;
        self.start(id, &config, ctx, input)
    }

    fn unknown_type(&self, id: &ComponentId, path: &str) -> Problem {
        let known: Vec<&str> = self.names().into_iter().map(|(name, _)| name).collect();
        Problem::new(
            path,
            profcol_config::suggest::unknown_type(K::SINGULAR, id.kind(), &known, None),
        )
    }
}

/// The error a factory returns when handed a config another type decoded
/// (a bug in the caller, not a user's mistake).
pub fn wrong_config<K: Kind>(factory: &dyn Factory<K>, id: &ComponentId) -> K::Error {
    K::invalid(vec![Problem::new(
        id.to_string(),
        format!(
            "the {} {id} was handed a config that is not a {:?} config",
            K::SINGULAR,
            factory.name()
        ),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Numbers;
    impl Kind for Numbers {
        const SINGULAR: &'static str = "number";
        type Config = (&'static str, u32);
        type Input = u32;
        type Running = u32;
        type Error = Vec<Problem>;
        fn invalid(problems: Vec<Problem>) -> Vec<Problem> {
            problems
        }
    }

    struct Adder(&'static str, &'static [&'static str]);
    impl Factory<Numbers> for Adder {
        fn name(&self) -> &'static str {
            self.0
        }
        fn aliases(&self) -> &'static [&'static str] {
            self.1
        }
        fn stability(&self) -> Stability {
            Stability::Beta
        }
        fn decode(
            &self,
            _: &ComponentId,
            body: &Body,
            path: &str,
        ) -> Result<(&'static str, u32), Vec<Problem>> {
            profcol_config::decode_only(body, path)
                .map(|n| (self.0, n))
                .map_err(|p| vec![p])
        }
        fn start(
            &self,
            id: &ComponentId,
            config: &(&'static str, u32),
            _: ComponentContext,
            input: u32,
        ) -> Result<u32, Vec<Problem>> {
            match config {
                (name, n) if *name == self.0 => Ok(n + input),
                _ => Err(wrong_config(self, id)),
            }
        }
    }

    static NUMBERS: Registry<Numbers> =
        Registry::new(&[&Adder("add", &["plus"]), &Adder("sum", &[])]);

    fn num(n: u32) -> Body {
        Body::parse(&n.to_string()).unwrap()
    }

    fn id(s: &str) -> ComponentId {
        s.parse().unwrap()
    }

    #[test]
    fn aliases_find_their_type_and_are_listed_after_it() {
        assert_eq!(NUMBERS.lookup("plus").map(|f| f.name()), Some("add"));
        let names: Vec<&str> = NUMBERS.names().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["add", "plus", "sum"]);
    }

    #[test]
    fn decode_then_start_and_unknown_types_are_problems() {
        let ctx = || ComponentContext::standalone("x");
        let config = NUMBERS.decode(&id("plus/a"), &num(2), "n::plus/a");
        assert_eq!(
            NUMBERS.start(&id("plus/a"), &config.unwrap(), ctx(), 3),
            Ok(5)
        );
        let problems = NUMBERS.decode(&id("ad"), &num(1), "n::ad").unwrap_err();
        let text = problems[0].to_string();
        assert!(text.starts_with("n::ad: "), "{text}");
        assert!(text.contains("\"add\""), "suggests the near name: {text}");
        let problems = NUMBERS
            .start_body(&id("add"), &Body::parse("x").unwrap(), "n::add", ctx(), 1)
            .unwrap_err();
        assert!(problems[0].to_string().starts_with("n::add"));
    }

    #[test]
    fn a_config_of_another_type_is_refused_not_started() {
        let other = NUMBERS.decode(&id("sum"), &num(1), "").unwrap();
        let err = NUMBERS
            .start(&id("add"), &other, ComponentContext::standalone("add"), 1)
            .unwrap_err();
        assert!(
            err[0].to_string().contains("not a \"add\" config"),
            "{err:?}"
        );
    }
}
