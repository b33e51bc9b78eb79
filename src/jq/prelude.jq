# Definitions compiled before every program: bounded generators and jq 1.8 behaviour.
# Library definitions that wrap values in a new level (`path`, `group_by`, `JOIN`, `INDEX`)
# pass their results through `__deep`, so no value nests past the limit; those that walk
# values do so natively (`__recurse`, `__flatten`) or under `__guard`.
def path(f): __path(f) | __deep;
def path_value(f): __path_value(f) | __deep;
def group_by(f): __group_by(f) | __deep;
def env: $ENV;
def type: __type;
def tostring: __tostring;
def tojson: __tojson;
def setpath($p; $v): __setpath($p; $v);
def delpaths($ps): __delpaths($ps);
def __assign(paths; $v): reduce path(paths) as $p (.; __setpath($p; $v));
def __modify(paths; update):
  reduce path(paths) as $p ([., []];
    . as [$x, $del]
    | label $out
    | (($x | __setpath($p; $x | getpath($p) | update)) as $new | [$new, $del] | ., break $out),
      [$x, $del + [$p]])
  | . as [$x, $del] | $x | __delpaths($del);
def del(f): __delpaths([path(f)]);
def repeat(f): def rec: __guard(f, rec); rec;
def recurse(f): def rec: __guard(., (f | rec)); rec;
def recurse: __recurse;
def recurse(f; cond): recurse(f | select(cond));
def while(cond; update): def rec: __guard(if cond then ., (update | rec) else empty end); rec;
def until(cond; update): def rec: __guard(if cond then . else update | rec end); rec;
def keys: __keys;
def keys_unsorted: __keys_unsorted;
def to_entries: __to_entries;
def from_entries: __from_entries;
def with_entries(f): __to_entries | map(f) | __from_entries;
def paths: path(__recurse) | select(length > 0);
def paths(node_filter): path(__recurse | select(node_filter)) | select(length > 0);
def walk(f): __walk(f);
def join($x): __join($x);
def split($sep): __split1($sep);
def toboolean:
  if type == "boolean" then .
  elif type == "string" and (. == "true" or . == "false") then . == "true"
  else error("\(__describe) cannot be parsed as a boolean") end;
def pick(pathexps): . as $top | reduce path(pathexps) as $p (null; __setpath($p; $top | getpath($p)));
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] |= $row) | __deep;
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def JOIN($idx; idx_expr): [.[] | [., $idx[idx_expr]]] | __deep;
def JOIN($idx; stream; idx_expr): stream | [., $idx[idx_expr]] | __deep;
def JOIN($idx; stream; idx_expr; join_expr): stream | [., $idx[idx_expr]] | __deep | join_expr;
def tostream: __tostream;
def fromstream(f): { x: null, e: false } as $init
  | foreach f as $i ($init;
      if .e then $init else . end
      | if $i | length == 2
        then __setpath(["e"]; $i[0] | length == 0) | __setpath(["x"] + $i[0]; $i[1])
        else __setpath(["e"]; $i[0] | length == 1) end;
      if .e then .x else empty end);
def truncate_stream(stream): . as $n | null | stream | . as $input | if (.[0] | length) > $n then __setpath([0]; .[0][$n:]) else empty end;
def todate: if type == "number" then floor | __strftime_jq("%Y-%m-%dT%H:%M:%SZ") else strftime("%Y-%m-%dT%H:%M:%SZ") end;
def @text: __tostring;
def @json: __tojson;
def @html: __tostring | escape_html;
def @uri: __tostring | encode_uri;
def @sh: [if type == "array" then .[] end | if type == "string" then "'\(escape_sh)'" elif type == "array" or type == "object" then error("\(type) (\(tojson)) can not be escaped for shell") else __tojson end] | join(" ");
def @base64: __tostring | encode_base64;
def @base64d: __tostring | decode_base64;
def @base64d: __base64d;
def @urid: __urid;
def @csv:
  if type != "array" then error("\(type) (\(tojson)) cannot be csv-formatted, only an array can be") else
  map(if type == "number" then __tostring
      elif type == "string" then "\"" + (split("\"") | join("\"\"")) + "\""
      elif type == "boolean" then __tostring
      elif . == null then ""
      else error("\(type) (\(tojson)) is not valid in a csv row") end)
  | join(",") end;
def @tsv:
  if type != "array" then error("\(type) (\(tojson)) cannot be tsv-formatted, only an array can be") else
  map(if type == "number" or type == "boolean" then __tostring
      elif type == "string" then split("\\") | join("\\\\") | split("\t") | join("\\t") | split("\n") | join("\\n") | split("\r") | join("\\r")
      elif . == null then ""
      else error("\(type) (\(tojson)) is not valid in a tsv row") end)
  | join("\t") end;
def have_decnum: true;
def have_literal_numbers: true;
def limit($n; f):
  if $n > 0 then label $out | foreach f as $item (0; . + 1; $item, if . >= $n then break $out else empty end)
  elif $n == 0 then empty
  else error("limit doesn't support negative count") end;
def skip($n; f):
  if $n > 0 then foreach f as $item ($n; . - 1; if . < 0 then $item else empty end)
  elif $n == 0 then f
  else error("skip doesn't support negative count") end;
def nth($n; f): if $n < 0 then error("nth doesn't support negative indices") else first(skip($n; f)) end;
def flatten($x): __flatten($x);
def flatten: __flatten(1e9);
def transpose: [range(0; map(length) | max // 0) as $i | [.[][$i]]];
def trim: if type == "string" then __trim else error("trim input must be a string") end;
def ltrim: if type == "string" then __ltrim else error("trim input must be a string") end;
def rtrim: if type == "string" then __rtrim else error("trim input must be a string") end;
def ltrimstr($x): if type == "string" and ($x | type) == "string" then __ltrimstr($x) else error("startswith() requires string inputs") end;
def rtrimstr($x): if type == "string" and ($x | type) == "string" then __rtrimstr($x) else error("endswith() requires string inputs") end;
def trimstr($x): ltrimstr($x) | rtrimstr($x);
def utf8bytelength: if type == "string" then __utf8bytelength else error("\(type) (\(tojson)) only strings have UTF-8 byte length") end;
def abs: if . < 0 then __neg else . end;
def __is_bdt: type == "array" and length > 0 and all(.[]; type == "number");
def gmtime:
  if type == "number" then (. - floor) as $f | __gmtime | .[5] = (.[5] | floor) + $f
  else error("gmtime() requires a number") end;
def localtime:
  if type == "number" then (. - floor) as $f | __localtime | .[5] = (.[5] | floor) + $f
  else error("localtime() requires a number") end;
def strftime($f):
  if ($f | type) != "string" then error("strftime/1 requires a string format")
  elif type == "number" then floor | (__strftime_jq($f) // __strftime($f))
  elif __is_bdt then mktime | (__strftime_jq($f) // __strftime($f))
  else error("strftime/1 requires parsed datetime inputs") end;
def strflocaltime($f):
  if ($f | type) != "string" then error("strflocaltime/1 requires a string format")
  elif type == "number" then floor | __strflocaltime($f)
  elif __is_bdt then mktime | __strflocaltime($f)
  else error("strflocaltime/1 requires parsed datetime inputs") end;
def strptime($f):
  if type != "string" or ($f | type) != "string" then error("strptime/1 requires string inputs and arguments")
  else __strptime_jq($f) end;
def todate: if type == "number" then floor | __strftime_jq("%Y-%m-%dT%H:%M:%SZ") else strftime("%Y-%m-%dT%H:%M:%SZ") end;
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def fromdateiso8601: strptime("%Y-%m-%dT%H:%M:%SZ") | mktime;
def fromdate: fromdateiso8601;
def date: todate;
def dateadd(u; n): . + n;
def datesub(u; n): . - n;
def match(re; mode): __match(re; mode; false) | .[];
def match($val):
  ($val | type) as $vt
  | if $vt == "string" then match($val; null)
    elif $vt == "array" and ($val | length) > 1 then match($val[0]; $val[1])
    elif $vt == "array" and ($val | length) > 0 then match($val[0]; null)
    else error($vt + " not a string or array") end;
def test(re; mode): __match(re; mode; true);
def test($val):
  ($val | type) as $vt
  | if $vt == "string" then test($val; null)
    elif $vt == "array" and ($val | length) > 1 then test($val[0]; $val[1])
    elif $vt == "array" and ($val | length) > 0 then test($val[0]; null)
    else error($vt + " not a string or array") end;
def capture(re; mods): match(re; mods) | reduce (.captures | .[] | select(.name != null)) as $c ({}; . + {($c.name): $c.string});
def capture($val):
  ($val | type) as $vt
  | if $vt == "string" then capture($val; null)
    elif $vt == "array" and ($val | length) > 1 then capture($val[0]; $val[1])
    elif $vt == "array" and ($val | length) > 0 then capture($val[0]; null)
    else error($vt + " not a string or array") end;
def scan($re; $flags): match($re; "g" + ($flags // "")) | if (.captures | length) > 0 then [.captures | .[] | .string] else .string end;
def scan($re): scan($re; null);
def split($re; flags): . as $s | [match($re; "g" + (flags // "")) | (.offset, .offset + .length)] as $ms
  | [range(0; ($ms | length) + 2; 2) as $i | ([0] + $ms + [$s | length]) as $b | $s[$b[$i]:$b[$i + 1]]];
def splits($re; flags): split($re; flags) | .[];
def splits($re): splits($re; null);
def sub($re; str; $flags): __sub($re; $flags; str);
def sub($re; str): sub($re; str; "");
def gsub($re; str; $flags): sub($re; str; $flags + "g");
def gsub($re; str): sub($re; str; "g");
def builtins: ["length/0", "utf8bytelength/0", "not/0", "keys/0", "keys_unsorted/0", "values/0", "has/1", "in/1", "map/1", "map_values/1", "path/1", "del/1", "to_entries/0", "from_entries/0", "with_entries/1", "select/1", "recurse/0", "recurse/1", "recurse/2", "env/0", "transpose/0", "input/0", "inputs/0", "debug/0", "debug/1", "stderr/0", "input_filename/0", "splits/1", "splits/2", "split/1", "split/2", "ascii_downcase/0", "ascii_upcase/0", "tostring/0", "tojson/0", "fromjson/0", "tonumber/0", "type/0", "add/0", "add/1", "any/0", "any/1", "any/2", "all/0", "all/1", "all/2", "range/1", "range/2", "range/3", "floor/0", "sqrt/0", "pow/2", "log/0", "min/0", "max/0", "min_by/1", "max_by/1", "unique/0", "unique_by/1", "group_by/1", "sort/0", "sort_by/1", "reverse/0", "contains/1", "inside/1", "startswith/1", "endswith/1", "ltrimstr/1", "rtrimstr/1", "trimstr/1", "trim/0", "ltrim/0", "rtrim/0", "explode/0", "implode/0", "join/1", "test/1", "test/2", "match/1", "match/2", "capture/1", "capture/2", "scan/1", "scan/2", "sub/2", "sub/3", "gsub/2", "gsub/3", "tostream/0", "fromstream/1", "truncate_stream/1", "limit/2", "first/1", "last/1", "nth/2", "first/0", "last/0", "nth/1", "until/2", "while/2", "repeat/1", "getpath/1", "setpath/2", "delpaths/1", "paths/0", "paths/1", "pick/1", "indices/1", "index/1", "rindex/1", "flatten/0", "flatten/1", "todate/0", "fromdate/0", "now/0", "mktime/0", "gmtime/0", "localtime/0", "strftime/1", "strptime/1", "error/0", "error/1", "halt/0", "halt_error/0", "halt_error/1", "isempty/1", "splits/1", "abs/0", "have_decnum/0", "have_literal_numbers/0", "significand/0", "ldexp/2", "getpath/1", "IN/1", "IN/2", "INDEX/1", "INDEX/2", "JOIN/2", "JOIN/3", "JOIN/4", "combinations/0", "combinations/1", "walk/1", "env/0", "builtins/0", "input_line_number/0", "skip/2", "tojson/0", "toboolean/0", "infinite/0", "nan/0", "isinfinite/0", "isnan/0", "isnormal/0", "isvalid/1", "splits/2", "ltrimstr/1", "getpath/1", "min_by/1", "error/1", "add/1"] | unique;
def input_line_number: error("Unknown input line number");
def tonumber: if type == "number" then . else __tonumber end;
def combinations: if length == 0 then [] else .[0][] as $x | (.[1:] | __guard(combinations)) as $w | [$x] + $w end;
def combinations($n): . as $dot | [range($n)] | map($dot) | combinations;
def implode:
  if type != "array" then error("implode input must be an array")
  else map(if type == "number" then (if . > 1114111 or . < 0 or (. >= 55296 and . <= 57343) then 65533 else floor end)
           elif . == null then error("number (null) can't be imploded, unicode codepoint needs to be numeric")
           else error("\(__describe) can't be imploded, unicode codepoint needs to be numeric") end)
  | __implode end;
def debug: __debug;
def debug(msg): (msg | __debug | empty), .;
def stderr: __debug;
def halt: error("halt is not supported in a mapping");
def halt_error($code): error("halt_error is not supported in a mapping");
def halt_error: halt_error(5);
def has($k): if ($k | type) == "number" and ($k | isnan) then false else __has($k) end;
def bsearch($t): if type == "array" then __bsearch($t) else error("\(__describe) cannot be searched from") end;
def fromjson:
  if type == "string" and (ltrimstr("-") | startswith("nan") or startswith("NaN")) then
    (if (ltrimstr("-") | . == "nan" or . == "NaN") then nan
     else error("Invalid numeric literal at EOF at line 1, column \(length) (while parsing '\(.)')") end)
  else __json_depth | __fromjson end;
