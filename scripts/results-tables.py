# Copies the tables of 'puma eval all' (its results.md) into docs/RESULTS.md, section by section.
# usage: python3 scripts/results-tables.py docs/figures/eval/results.md
import sys,re
ev=open(sys.argv[1]).read()
def sec(title):
    i=ev.index('### '+title); j=ev.find('\n### ',i+4)
    body=ev[i:j if j>=0 else len(ev)]
    return body.split('\n',1)[1].strip('\n')
p='docs/RESULTS.md'; s=open(p).read()
for title in ['Table 1: reconstruction and diversity (test split)','Tables 2 and 6: text-to-image','Table 3: editing','Table 5: understanding by input scale','Grounding','Conditional generation']:
    new=sec(title)
    i=s.index('#### '+title)+len('#### '+title)
    # old body: up to the first blank line after the table
    m=re.search(r'\n\|[^\n]*\n(?!\|)', s[i:])  # end of table
    tstart=s.index('\n',i)
    tend=i+m.end()
    old=s[tstart:tend]
    oldtable=old.strip('\n')
    if oldtable!=new:
        print('changed:',title)
    s=s[:tstart]+'\n\n'+new+'\n'+s[tend:]
open(p,'w').write(s)
