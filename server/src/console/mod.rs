//! The docker console: a learner types real docker commands, and the engine they reach shows
//! and accepts only that learner's own things. Here so far: the policy proxy, the door the
//! learner's docker CLI talks to in place of the engine ([`proxy`]).

pub mod proxy;
