// The web page `puma serve` answers at /: one form per task, each posting JSON to /api/<task> and
// showing the images (or the answer) it gets back. Plain HTML and script, nothing to build; kept
// as a string so that the compiled package serves it too.
import { QUESTION_PHRASINGS } from '../data/tasks/templates.js';
import { escapeXml } from '../io/grid.js';

/** The question box suggests the phrasings the emoji model was trained on (other phrasings may get unrelated answers). */
const QUESTION_OPTIONS = QUESTION_PHRASINGS.map((q) => `<option value="${escapeXml(q)}">`).join('');

export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PUMA</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 1rem 1.5rem; color: #222; }
  h1 { font-size: 1.4rem; margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
  nav button { font: inherit; padding: 0.35rem 0.8rem; margin: 0 0.3rem 0.3rem 0; border: 1px solid #bbb; background: #f6f6f6; border-radius: 4px; cursor: pointer; }
  nav button.on { background: #2d5be3; color: white; border-color: #2d5be3; }
  form { display: grid; grid-template-columns: 10rem 1fr; gap: 0.5rem 1rem; align-items: center; margin: 1rem 0; }
  form .wide { grid-column: 1 / 3; } input[type=text], input[type=number], select { font: inherit; padding: 0.25rem; }
  details { grid-column: 1 / 3; } details form, details div { margin: 0.4rem 0; }
  #run { font: inherit; padding: 0.45rem 1.4rem; background: #2d5be3; color: white; border: 0; border-radius: 4px; cursor: pointer; }
  #run:disabled { background: #999; } #status { margin-left: 1rem; color: #555; } .error { color: #b00020; }
  .cells { display: flex; flex-wrap: wrap; gap: 0.8rem; margin-top: 1rem; }
  figure { margin: 0; text-align: center; font-size: 0.85rem; color: #444; }
  figure img { width: 160px; height: 160px; image-rendering: pixelated; border: 1px solid #ddd; display: block; }
  figure.best img { border: 3px solid #2d5be3; } figure.bestOfAll img { border-color: #e3662d; } .answer { font-size: 1.2rem; margin-top: 1rem; }
</style>
</head>
<body>
<h1>PUMA</h1>
<p class="sub">One model that reads and writes images at five granularities (arXiv 2410.13861). Model: <span id="model">…</span></p>
<nav id="tabs"></nav>
<form id="form" onsubmit="return false"></form>
<div><button id="run" type="button">Run</button><span id="status"></span></div>
<div id="out"></div>
<script>
const TASKS = {
  generate: { label: 'Text to image', fields: ['prompt', 'best'], scales: 'generateScales', about: 'The MLLM writes f4..f0 from the prompt; each scale is decoded by its own diffusion decoder. Coarse scales vary, fine scales are faithful.' },
  reconstruct: { label: 'Reconstruct', fields: ['image'], scales: 'generateScales', about: 'Encode an image with the frozen CLIP and decode it from each scale (paper Fig. 3).' },
  edit: { label: 'Edit', fields: ['image', 'instruction', 'keepInput', 'strength'], scales: 'imageScales', about: 'Change an image by an instruction, e.g. "Make the skin darker."; the change is applied to the input.' },
  inpaint: { label: 'Inpaint', fields: ['image', 'box', 'caption', 'keepInput'], scales: 'inpaintScales', about: 'Fill a rectangle (x, y, width, height in the image\\'s pixels); the pixels around it are kept as they are, and f4 fills it best (f0 for the decoder\\'s image as is).' },
  colorize: { label: 'Colorize', fields: ['image', 'caption', 'keepInput'], scales: 'imageScales', about: 'Colour a grayscale image (a colour one is made grey first); the model gives the colour, the input keeps its lightness.' },
  canny2img: { label: 'Canny to image', fields: ['image', 'prompt', 'edges'], scales: 'imageScales', about: 'Draw an image from the canny edges of another and a caption.' },
  ask: { label: 'Ask', fields: ['image', 'question'], about: 'Answer a question about an image.' },
  ground: { label: 'Ground', fields: ['image', 'phrase'], about: 'Find a phrase in an image: a box, drawn in red.' },
};
const FIELDS = {
  prompt: '<label for="prompt">Prompt</label><input id="prompt" type="text" value="slightly smiling face">',
  best: '<label for="best">5-scale Max</label><label><input id="best" type="checkbox"> mark the scale with the highest CLIP score (per seed, and of all seeds)</label>',
  image: '<label for="image">Image</label><input id="image" type="file" accept="image/png,image/jpeg,image/webp">',
  instruction: '<label for="instruction">Instruction</label><input id="instruction" type="text" value="Make the skin darker.">',
  box: '<label for="box">Box x,y,w,h</label><input id="box" type="text" value="16,16,32,32">',
  caption: '<label for="caption">Caption (optional)</label><input id="caption" type="text">',
  edges: '<label for="edges">Edge map</label><label><input id="edges" type="checkbox"> the image already is an edge map</label>',
  keepInput: '<label for="keepInput">Keep the input</label><label><input id="keepInput" type="checkbox" checked> put back what the input fixes (off: the decoder\\'s image as is)</label>',
  strength: '<label for="strength">Strength</label><input id="strength" type="number" min="0" max="10" step="0.5" value="1" style="width:5rem"> how much of the decoded change to add (2 doubles a faint edit; needs the input kept)',
  question: '<label for="question">Question</label><input id="question" type="text" list="questions" value="What does this emoji show?"><datalist id="questions">${QUESTION_OPTIONS}</datalist>',
  phrase: '<label for="phrase">Phrase</label><input id="phrase" type="text" value="grinning face">',
};
let info = null, current = 'generate';
const $ = (id) => document.getElementById(id);

function decodeFields(t) {
  if (!t.scales) return '';
  const scales = info.scales.slice().reverse().map((k) => '<label><input type="checkbox" name="scale" value="' + k + '"' + (info.defaults[t.scales].includes(k) ? ' checked' : '') + '> f' + k + '</label>').join(' ');
  const schedulers = info.schedulers.map((s) => '<option' + (s === info.defaults.scheduler ? ' selected' : '') + '>' + s + '</option>').join('');
  return '<label>Scales</label><div>' + scales + '</div>' +
    '<label for="seeds">Seeds</label><input id="seeds" type="text" value="0">' +
    '<details><summary>Sampling</summary><div>steps <input id="steps" type="number" min="1" value="' + info.defaults.steps + '" style="width:5rem"> ' +
    'guidance <input id="guidance" type="number" min="0" step="0.5" value="' + (current === 'generate' ? info.defaults.generateGuidance : info.defaults.guidance) + '" style="width:5rem"> ' +
    'sampler <select id="scheduler">' + schedulers + '</select></div></details>';
}

function show(name) {
  current = name;
  const t = TASKS[name];
  document.querySelectorAll('nav button').forEach((b) => b.classList.toggle('on', b.dataset.task === name));
  $('form').innerHTML = '<p class="wide">' + t.about + '</p>' + t.fields.map((f) => FIELDS[f]).join('') + decodeFields(t);
  $('out').innerHTML = '';
  // inpainting decodes f4 with the input kept and f0 without it: the box moves the scales with it
  if (name === 'inpaint') $('keepInput').onchange = (e) => {
    const want = info.defaults[e.target.checked ? 'inpaintScales' : 'imageScales'];
    document.querySelectorAll('input[name=scale]').forEach((c) => { c.checked = want.includes(Number(c.value)); });
  };
}

const readFile = (file) => new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = fail; r.readAsDataURL(file); });
const numbers = (s) => s.split(',').map((x) => x.trim()).filter(Boolean).map(Number);

async function request() {
  const t = TASKS[current], body = {};
  for (const f of t.fields) {
    const el = $(f);
    if (f === 'image') {
      if (!el.files.length) throw new Error('choose an image first');
      body.image = await readFile(el.files[0]);
    } else if (f === 'best' || f === 'edges' || f === 'keepInput') body[f] = el.checked;
    else if (f === 'box') body.box = numbers(el.value);
    else if (f === 'caption') { if (el.value.trim()) body.caption = el.value.trim(); }
    else if (f === 'strength') { if (Number(el.value) !== 1) body.strength = Number(el.value); }
    else body[f] = el.value;
  }
  if (t.scales) {
    body.scales = [...document.querySelectorAll('input[name=scale]:checked')].map((c) => Number(c.value));
    body.seeds = numbers($('seeds').value);
    body.steps = Number($('steps').value); body.guidance = Number($('guidance').value); body.scheduler = $('scheduler').value;
  }
  return body;
}

function figure(src, caption, best, bestOfAll) {
  return '<figure' + (best ? ' class="best' + (bestOfAll ? ' bestOfAll' : '') + '"' : '') + '><img src="' + src + '" alt=""><figcaption>' + caption + '</figcaption></figure>';
}

function render(r) {
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  let html = r.note ? '<p>note: ' + esc(r.note) + '</p>' : '';
  if (r.unseenNote) html += '<p>note: ' + esc(r.unseenNote) + '</p>';
  if (r.images) {
    // one row per seed, coarse scales first, the input (if any) leading each row
    const seeds = [...new Set(r.images.map((im) => im.seed))];
    html += seeds.map((seed) => '<div class="cells">' + (r.input ? figure(r.input, 'input') : '') +
      r.images.filter((im) => im.seed === seed).sort((a, b) => b.scale - a.scale)
        .map((im) => figure(im.png, 'f' + im.scale + ' · seed ' + im.seed + (im.score !== undefined ? ' · ' + im.score.toFixed(3) : '') + (im.bestOfAll && seeds.length > 1 ? ' · best of all' : ''), im.best, im.bestOfAll)).join('') + '</div>').join('');
    if (r.text) html += '<p>prompt: ' + esc(r.text) + '</p>';
  } else if (r.drawn) {
    html += '<div class="cells">' + figure(r.drawn, r.box ? 'box ' + r.box.join(',') : 'no box in the answer') + '</div><p>answer: ' + esc(r.answer) + '</p>';
  } else {
    html += '<div class="cells">' + figure(r.input, 'as the model saw it') + '</div><p class="answer">' + esc(r.answer || '(no answer)') + '</p>';
  }
  html += '<p style="color:#666">MLLM: ' + esc(r.mllm) + '</p>';
  $('out').innerHTML = html;
}

$('run').onclick = async () => {
  $('run').disabled = true; $('status').className = '';
  const t0 = performance.now();
  // the model runs on the server's main thread and sends nothing until it is done: count the seconds here
  const tick = () => { $('status').textContent = 'working… ' + Math.floor((performance.now() - t0) / 1000) + ' s'; };
  tick();
  const timer = setInterval(tick, 1000);
  try {
    const res = await fetch('/api/' + current, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(await request()) });
    const r = await res.json();
    if (!res.ok) throw new Error(r.error || res.statusText);
    render(r);
    $('status').textContent = 'done in ' + ((performance.now() - t0) / 1000).toFixed(1) + ' s';
  } catch (err) {
    $('status').className = 'error'; $('status').textContent = err.message;
  } finally {
    clearInterval(timer);
    $('run').disabled = false;
  }
};

fetch('/api/info').then((r) => r.json()).then((i) => {
  info = i;
  $('model').textContent = i.model + ' (MLLMs: ' + i.mllms.join(', ') + ')';
  $('tabs').innerHTML = Object.entries(TASKS).map(([k, t]) => '<button type="button" data-task="' + k + '">' + t.label + '</button>').join('');
  document.querySelectorAll('nav button').forEach((b) => { b.onclick = () => show(b.dataset.task); });
  show('generate');
});
</script>
</body>
</html>
`;
