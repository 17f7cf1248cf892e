# duckcheck.py: cross-check the batch golden files against DuckDB.
# Usage (from the repo root): python3 testdata/duckcheck.py [FILE.test…]   (needs /tmp/duckq, see ../shared/tools/duckq)
# With no files it checks every testdata/sql/batch/*.test.
# Each file-backed CREATE SOURCE becomes a DuckDB view; each query runs in both and the rows are compared
# (MySQL NULL ordering and DIV/LIMIT spellings translated). Differences print as MISMATCH.
import re, subprocess, sys, glob, csv, io
def parse(path):
    recs=[]; lines=open(path).read().split('\n'); i=0; note=''
    while i < len(lines):
        l=lines[i].strip()
        if l.startswith('#'):
            if 'duckdb:' in l: note=l
            i+=1; continue
        if l.startswith('query') or l.startswith('statement'):
            hdr=l; i+=1; sqlt=[]
            while i < len(lines) and lines[i].strip()!='' and lines[i]!='----':
                sqlt.append(lines[i]); i+=1
            rows=[]
            if i < len(lines) and lines[i]=='----':
                i+=1
                while i < len(lines) and lines[i]!='':
                    rows.append(lines[i]); i+=1
            recs.append((hdr+(' DUCKSKIP' if note else ''),'\n'.join(sqlt),rows)); note=''
        i+=1
    return recs
def interval(days, months, micros):
    # duckq prints an INTERVAL as Go's {Days Months Micros}; this is DuckDB's own text.
    parts=[]
    for n,u in ((months//12 if months>=0 else -(-months//12),'year'),(months%12 if months>=0 else -(-months%12),'month'),(days,'day')):
        if n: parts.append('%d %s%s'%(n,u,'' if abs(n)==1 else 's'))
    if micros or not parts:
        a=abs(micros); t='%s%02d:%02d:%02d'%('-' if micros<0 else '',a//3600000000,a//60000000%60,a//1000000%60)
        if a%1000000: t+=('.%06d'%(a%1000000)).rstrip('0')
        parts.append(t)
    return ' '.join(parts)
def norm(v):
    if v in ('NULL',''): return 'NULL'
    m=re.match(r'\{(-?\d+) (-?\d+) (-?\d+)\}$',v)
    if m: return interval(*map(int,m.groups()))
    # A list: sluice prints [1, NULL, 3] (as DuckDB's CLI), duckq Go's [1 <nil> 3].
    if v.startswith('[') and v.endswith(']'): v=v.replace(' +0000 UTC','')  # duckq prints a TIMESTAMP in a list as Go's time
    if v.startswith('[') and v.endswith(']') and len(v)>2:
        # Numbers inside a list compare as numbers (duckq prints DECIMAL 1.50 as 1.5).
        es=v[1:-1].split(', ' if (', ' in v or v=='[NULL]') else ' ')
        def num(e):
            try: return '%.6g'%float(e)
            except: return None
        if all(e in ('NULL','<nil>') or num(e) is not None for e in es):
            return '['+' '.join('<nil>' if e in ('NULL','<nil>') else num(e) for e in es)+']'
    if v.startswith('[') and v.endswith(']') and (', ' in v or v=='[NULL]'): return '['+' '.join('<nil>' if e=='NULL' else e for e in v[1:-1].split(', '))+']'
    if v=='(empty)': return 'NULL'  # duckq's CSV prints '' and NULL alike
    if v in ('true','True'): return 'true'
    if v in ('false','False'): return 'false'
    try:
        f=float(v); return '%.6g'%f
    except: pass
    if re.match(r'\d{4}-\d\d-\d\d 00:00:00$',v): return v[:10]  # duckq prints DATE as a midnight timestamp
    return v.replace('T',' ') if re.match(r'\d{4}-\d\d-\d\dT',v) else v
# Queries with window functions (OVER) set DuckDB's NULL order to MySQL's instead of rewriting
# ORDER BY, which would also hit the ORDER BY inside OVER (...).
# A record whose comment says `duckdb: …` is a chosen dialect difference
# (MySQL's meaning, see the README): it is counted, not compared.
tot=bad=skip=0
for path in sys.argv[1:] or sorted(glob.glob('testdata/sql/batch/*.test')):
    views=[]; unmapped=set()
    for hdr,sqlt,rows in parse(path):
        m=re.match(r"CREATE SOURCE (\w+) WITH \(connector = 'file', path = '([^']+)', format = '(csv|json)'(.*)\)$", sqlt) or \
          re.match(r"CREATE SOURCE (\w+) WITH \(connector = 'file', path = '([^']+\.parquet)'()(.*)\)$", sqlt)
        if m and '$' not in m.group(2):
            name,p,fmt,rest=m.groups()
            fn = {'csv':"read_csv('testdata/%s')", 'json':"read_json('testdata/%s', format='newline_delimited')"}.get(fmt, "read_parquet('testdata/%s')")%p
            if rest.strip(): unmapped.add(name.lower()); continue
            views.append("CREATE OR REPLACE VIEW %s AS SELECT * FROM %s"%(name,fn))
            continue
        m=re.match(r"CREATE (SOURCE|SINK|TABLE) (\w+)", sqlt)
        if m and not sqlt.startswith('CREATE TABLE') or (m and ' WITH ' in sqlt): unmapped.add(m.group(2).lower())
        if hdr.endswith('DUCKSKIP'):
            skip+=1; continue
        if hdr=='statement ok' and re.match(r'(CREATE (OR REPLACE )?(TABLE|VIEW)|INSERT INTO|DROP (TABLE|VIEW))\b', sqlt):
            views.append(re.sub(r"(FROM|JOIN|,)(\s+)(read_\w+\()?'data/", r"\1\2\3'testdata/data/", sqlt)); continue
        if not hdr.startswith('query') or 'EXPLAIN' in sqlt or 'SHOW' in sqlt or 'DESCRIBE' in sqlt: continue
        # Sources DuckDB cannot read as declared (options, sinks read back)
        # and the window table functions have no DuckDB twin: not compared.
        if re.search(r'\b(TUMBLE|HOP|SESSION)\s*\(', sqlt) or any(re.search(r'\b%s\b'%n, sqlt, re.I) for n in unmapped):
            skip+=1; continue
        files=re.search(r"(FROM|JOIN|,)\s+(read_\w+\(\[?)?'data/", sqlt)
        if not views and not files and '(VALUES' not in sqlt: continue
        if '${' in sqlt:  # a path the golden runner substitutes (a temporary directory)
            skip+=1; continue
        q=re.sub(r"(FROM|JOIN|,)(\s+)(read_\w+\()?'data/", r"\1\2\3'testdata/data/", sqlt)
        if re.search(r"read_\w+\(\[", q): q=q.replace("'data/", "'testdata/data/")  # read_csv(['data/a.csv', 'data/b.csv'])
        q=q.replace(' DIV ',' // ')
        q=re.sub(r'LIMIT (\d+), (\d+)', r'LIMIT \2 OFFSET \1', q)
        q=re.sub(r'ORDER BY ALL DESC$', 'ORDER BY ALL DESC NULLS LAST', q)
        q=re.sub(r'ORDER BY ALL$', 'ORDER BY ALL NULLS FIRST', q)
        pre=list(views)
        if re.search(r'\bOVER\b', q):
            pre.append("SET default_null_order='nulls_first_on_asc_last_on_desc'")
        elif not q.endswith(' NULLS FIRST') and not q.endswith(' NULLS LAST') and ')' not in q[q.rfind('ORDER BY'):]: q=re.sub(r'ORDER BY ([^L()]*?)( LIMIT|$)', lambda mm: 'ORDER BY '+', '.join([c+(' NULLS LAST' if c.strip().upper().endswith('DESC') else ' NULLS FIRST') for c in mm.group(1).split(',')])+mm.group(2), q)
        r=subprocess.run(['/tmp/duckq']+(['-pre',';'.join(pre)] if pre else [])+['-e',q],capture_output=True,text=True)
        tot+=1
        if r.returncode!=0:
            print('DUCKERR',path,sqlt,'\n  ',r.stderr.strip()[:200]); bad+=1; continue
        out=list(csv.reader(io.StringIO(r.stdout)))[1:]
        d=[tuple(norm(x) for x in (row if row else ['']) ) for row in out]
        s=[tuple(norm(x) for x in row.split('\t')) for row in rows]
        if 'rowsort' in hdr or 'ORDER BY' not in sqlt: d.sort(); s.sort()
        if d!=s:
            bad+=1; print('MISMATCH',path,sqlt,'\n  duck:',d[:8],'\n  slu: ',s[:8])
print('checked',tot,'mismatch/err',bad,'skipped (dialect differences, window table functions, sources DuckDB cannot read as declared)',skip)
