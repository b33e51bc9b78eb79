# Definitions compiled before every program: bounded generators and jq 1.8 behaviour.
def env: $ENV;
def tostring: __tostring;
def tojson: __tojson;
def setpath($p; $v): __setpath($p; $v);
def delpaths($ps): __delpaths($ps);
def __assign(paths; $v): reduce path(paths) as $p (.; __setpath($p; $v));
def __modify(paths; update):
  reduce path(paths) as $p ([., []];
    . as [$x, $del]
    | label $out
    | ([($x | __setpath($p; $x | getpath($p) | update)), $del] | ., break $out),
      [$x, $del + [$p]])
  | . as [$x, $del] | $x | __delpaths($del);
def del(f): __delpaths([path(f)]);
def repeat(f): def rec: __guard(f, rec); rec;
def recurse(f): def rec: __guard(., (f | rec)); rec;
def recurse: recurse(.[]?);
def recurse(f; cond): recurse(f | select(cond));
def while(cond; update): def rec: __guard(if cond then ., (update | rec) else empty end); rec;
def until(cond; update): def rec: __guard(if cond then . else update | rec end); rec;
def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
def from_entries:
  reduce .[] as $x ({};
    . + { ($x | .key // .Key // .name // .Name
               | if type == "string" then . else error("Cannot use \(type) (\(tojson)) as object key") end):
          ($x | if has("value") then .value else .Value end) });
def with_entries(f): to_entries | map(f) | from_entries;
def join($x):
  reduce .[] as $i (null;
    (if . == null then "" else . + $x end)
    + ($i | if . == null then "" elif type == "string" then . elif type == "boolean" or type == "number" then tojson
            else error("\("" | type) (\("" | tojson)) and \(type) (\(tojson)) cannot be added") end))
  // "";
def pick(pathexps): . as $top | reduce path(pathexps) as $p (null; __setpath($p; $top | getpath($p)));
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] |= $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def JOIN($idx; idx_expr): [.[] | [., $idx[idx_expr]]];
def JOIN($idx; stream; idx_expr): stream | [., $idx[idx_expr]];
def JOIN($idx; stream; idx_expr; join_expr): stream | [., $idx[idx_expr]] | join_expr;
def tostream: path(def r: (.[]? | r), .; r) as $p | getpath($p) | reduce path(.[]?) as $q ([$p, .]; [$p + $q]);
def fromstream(f): { x: null, e: false } as $init
  | foreach f as $i ($init;
      if .e then $init else . end
      | if $i | length == 2
        then __setpath(["e"]; $i[0] | length == 0) | __setpath(["x"] + $i[0]; $i[1])
        else __setpath(["e"]; $i[0] | length == 1) end;
      if .e then .x else empty end);
def truncate_stream(stream): . as $n | null | stream | . as $input | if (.[0] | length) > $n then __setpath([0]; .[0][$n:]) else empty end;
def leaf_paths: paths(scalars);
def todate: strftime("%Y-%m-%dT%H:%M:%SZ");
def @text: __tostring;
def @json: __tojson;
def @html: __tostring | escape_html;
def @uri: __tostring | encode_uri;
def @sh: [if type == "array" then .[] end | if type == "string" then "'\(escape_sh)'" elif type == "array" or type == "object" then error("\(type) (\(tojson)) can not be escaped for shell") else __tojson end] | join(" ");
def @base64: __tostring | encode_base64;
def @base64d: __tostring | decode_base64;
