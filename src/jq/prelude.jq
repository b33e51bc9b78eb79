# Definitions compiled before every program: bounded generators and jq 1.8 behaviour.
def env: $ENV;
def repeat(f): def rec: __guard(f, rec); rec;
def recurse(f): def rec: __guard(., (f | rec)); rec;
def recurse: recurse(.[]?);
def recurse(f; cond): recurse(f | select(cond));
def while(cond; update): def rec: __guard(if cond then ., (update | rec) else empty end); rec;
def until(cond; update): def rec: __guard(if cond then . else update | rec end); rec;
